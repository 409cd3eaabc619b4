"""Landing redirects, /healthz, /me."""

from __future__ import annotations

from app.models import Role


def test_home_sends_each_role_to_its_page(client, new_client, make_user, org):
    assert "/login" in client.get("/").location
    for role, target in [(Role.ADMIN, "/admin/"), (Role.MANAGER, "/admin/"),
                         (Role.ORG_ADMIN, "/org"), (Role.STAFF, "/me")]:
        c = new_client()
        c.login(make_user(role, org if role == Role.ORG_ADMIN else None).email)
        assert c.get("/").location == target


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_healthz_reports_an_unreachable_redis_as_degraded(make_app):
    """Redis down: still serving (200), "degraded", naming the component."""
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and body["degraded"] == ["redis"]
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["database"] == "ok" and body["outbox_pending"] == 0


def test_healthz_answers_503_without_the_database(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    real_execute = db.session.execute

    def down(statement, *args, **kwargs):
        if str(statement) == "SELECT 1":
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return real_execute(statement, *args, **kwargs)

    with app.test_request_context("/healthz"):
        monkeypatch.setattr(db.session, "execute", down)
        response = app.full_dispatch_request()
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"


def test_me_shows_the_welcome_notification(app, admin_client, new_client):
    from app.extensions import db
    from app.models import Notification

    admin_client.post("/admin/users", headers={"HX-Request": "true"}, data={
        "name": "New Learner", "email": "learner@example.test", "role": "staff",
        "organization_id": ""})
    with app.app_context():  # the invitation email's link sets the password
        link = db.session.scalar(db.select(Notification.link).where(
            Notification.type == "ACCOUNT_INVITATION"))
    learner = new_client()
    learner.post(link, data={"password": "long-enough-pw", "confirm": "long-enough-pw"})
    learner.login("learner@example.test", "long-enough-pw")
    page = learner.get("/me").get_data(as_text=True)
    assert "Welcome to Credwright" in page and "New Learner" in page


def test_nav_is_per_role(admin_client, staff_client):
    admin_nav = admin_client.get("/me").get_data(as_text=True)
    staff_nav = staff_client.get("/me").get_data(as_text=True)
    assert 'href="/admin/users"' in admin_nav and 'href="/admin/audit"' in admin_nav
    assert 'href="/admin/' not in staff_nav
