"""/admin/jobs in a real browser: a delivery that failed against an unreachable SMS
gateway is listed with its error; once the gateway setting is fixed, Retry sends it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import DeliveryStatus, NotificationDelivery, NotificationType, Role, User
from app.services import notifications
from tests.browser.conftest import log_in_page


@pytest.fixture
def app(make_app):
    # Port 9 (discard) refuses connections: the SMS fails and is recorded.
    return make_app(MAIL_SERVER=None, SMS_GATEWAY_URL="http://127.0.0.1:9/sms")


def test_failed_delivery_is_visible_and_retried(app, page, live_server, make_user, org,
                                                screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    holder = make_user(Role.STAFF, org, name="Hēmi Walker", phone="+64 21 555 0101",
                       sms_critical=True)
    with app.app_context():
        notifications.notify(db.session.get(User, holder.id),
                             NotificationType.CREDENTIAL_EXPIRY,
                             "Working at Heights expires within 30 days", "Renew it.")
        db.session.commit()  # the inline job sends: email logged, SMS fails
        sms = db.session.scalar(db.select(NotificationDelivery).where(
            NotificationDelivery.channel == "sms"))
        assert sms.status == DeliveryStatus.FAILED

    log_in_page(page, live_server, admin.email)
    page.locator("summary", has_text="Manage").click()
    page.get_by_role("link", name="Jobs and deliveries").click()
    row = page.locator("tr", has_text="+64 21 555 0101")
    expect(row).to_contain_text("Working at Heights expires within 30 days")
    expect(row).to_contain_text("SMS gateway")
    screenshot("failed-delivery")

    app.config["SMS_GATEWAY_URL"] = None  # fixed: now written to the log
    row.get_by_role("button", name="Retry").click()
    expect(page.locator("tr", has_text="+64 21 555 0101")).to_have_count(0)
    expect(page.get_by_text("No failed deliveries.")).to_be_visible()
    screenshot("after-retry")
    with app.app_context():
        assert db.session.get(NotificationDelivery, sms.id).status == DeliveryStatus.LOGGED
    assert not page_errors, page_errors
