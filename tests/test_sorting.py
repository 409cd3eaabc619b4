"""Sortable lists: the sort parser (any URL value, never an error), ORDER BY per list,
and the headers (links keeping the filters, aria-sort on the sorted column)."""

from __future__ import annotations

import re
from html import unescape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func

from app.models import Role, User
from app.services import users as user_service
from app.services.fields import has_control
from app.services.sorting import Sorting

ANY_TEXT = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(
    ["name", "email", "role", "organization", "asc", "desc", "ASC", "name;drop", "__class__",
     "keys", "id", "-name", "name desc"]))


@given(key=ANY_TEXT, direction=ANY_TEXT)
def test_parse_always_gives_a_whitelisted_sort(key, direction) -> None:
    sort = user_service.SORTS.parse(key, direction)
    assert sort.key in user_service.SORTS.keys
    assert sort.direction in {"asc", "desc"}
    if key in user_service.SORTS.keys and direction in {"asc", "desc"}:
        assert (sort.key, sort.direction) == (key, direction)
    if key not in user_service.SORTS.keys:
        assert sort.key == "name"


def test_sort_directions_and_arguments() -> None:
    sorting = Sorting({"name": (User.name,), "created": (User.created_at,)}, default="name",
                      tiebreak=User.id, first_dir={"created": "desc"})
    default = sorting.parse(None)
    assert default.args() == {"sort": None, "dir": None}
    assert default.aria("name") == "ascending" and default.aria("created") == "none"
    assert default.next_direction("name") == "desc"  # click the sorted column: reverse
    assert default.next_direction("created") == "desc"  # dates: newest first
    assert sorting.parse("created").direction == "desc"
    assert sorting.parse("created", "asc").args() == {"sort": "created", "dir": "asc"}
    assert sorting.parse("name", "desc").aria("name") == "descending"
    sql = str(sorting.parse("created", "asc").apply(sorting_stmt()).compile())
    assert re.search(r"ORDER BY users.created_at ASC NULLS LAST, users.id ASC", sql)


def sorting_stmt():
    from sqlalchemy import select
    return select(User).order_by(User.email)


def _names(html: str) -> list[str]:
    body = html.split('id="users-rows"', 1)[1]
    return [unescape(n) for n in re.findall(r'<a href="/people/\d+"[^>]*>([^<]+)</a>', body)]


def _seed_users(make_user, make_org):
    north, south = make_org("North Ltd"), make_org("Aotea Ltd")
    make_user(Role.STAFF, north, name="carol Zeta", email="c@example.test")
    make_user(Role.MANAGER, None, name="Bob Young", email="z@example.test")
    make_user(Role.STAFF, south, name="Ánne Xu", email="a@example.test")
    return north, south


def test_users_list_orders_by_each_column(admin_client, make_user, make_org) -> None:
    _seed_users(make_user, make_org)
    names = {k: _names(admin_client.get(f"/admin/users?sort={k}&dir=asc").get_data(as_text=True))
             for k in user_service.SORTS.keys}
    assert names["name"] == sorted(names["name"], key=str.lower)
    assert names["email"][:3] == ["Ánne Xu", "Ada Admin", "carol Zeta"][:1] + names["email"][1:3]
    emails_desc = _names(admin_client.get("/admin/users?sort=email&dir=desc").get_data(as_text=True))
    assert emails_desc[0] == "Bob Young" and emails_desc == list(reversed(names["email"]))
    # Organization: Aotea, North, then people with none (NULLs last either way).
    by_org = names["organization"]
    assert by_org.index("Ánne Xu") < by_org.index("carol Zeta") < by_org.index("Bob Young")
    by_org_desc = _names(admin_client.get("/admin/users?sort=organization&dir=desc")
                         .get_data(as_text=True))
    assert by_org_desc.index("carol Zeta") < by_org_desc.index("Ánne Xu") < by_org_desc.index(
        "Bob Young")


def test_users_headers_link_the_sort_and_keep_the_filters(admin_client, make_user, make_org):
    _seed_users(make_user, make_org)
    html = admin_client.get("/admin/users?role=staff&sort=email&dir=desc&page=1").get_data(
        as_text=True)
    [th] = re.findall(r'<th scope="col" aria-sort="[a-z]+">.*?</th>', html, re.S)
    assert 'aria-sort="descending"' in th and ">Email<" in th
    links = {unescape(h) for h in re.findall(r'class="sort-link" id="[^"]+" href="([^"]+)"', html)}
    assert "/admin/users?role=staff&sort=email&dir=asc" in links  # reversed, page reset
    assert "/admin/users?role=staff&sort=name&dir=asc" in links
    # The filter form (outside the table) carries the sort through form= inputs.
    assert '<input type="hidden" name="sort" value="email" form="user-filters">' in html
    assert '<input type="hidden" name="dir" value="desc" form="user-filters">' in html
    fragment = admin_client.get("/admin/users?sort=email&dir=desc",
                                headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'form="user-filters"' in fragment and 'aria-sort="descending"' in fragment


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=ANY_TEXT, direction=ANY_TEXT)
def test_no_sort_parameter_gives_a_500(admin_client, key, direction) -> None:
    params = {k: v for k, v in {"sort": key, "dir": direction}.items() if v is not None}
    for listed in SORTED_LISTS:
        path, _, tab = listed.partition("?status=")
        query = {**params, **({"status": tab} if tab else {})}
        # 400 only for what every query argument refuses (control characters).
        status = admin_client.get(path, query_string=query).status_code
        assert status == 200 or (status == 400 and has_control("".join(params.values()))), (
            path, params, status)


SORTED_LISTS = ["/admin/users", "/admin/organizations"]


def test_lower_is_used_for_names() -> None:
    sql = str(user_service.SORTS.parse("name").apply(sorting_stmt()).compile())
    assert str(func.lower(User.name).compile()) in sql


def _org_names(html: str) -> list[str]:
    body = html.split('id="organizations-rows"', 1)[1]
    return re.findall(r'<tr id="org-\d+"[^>]*>\s*<td><a href="[^"]+">([^<]+)</a>', body)


def test_organizations_sort_by_name_slug_and_members(admin_client, make_org, make_user):
    big = make_org("beta Co", slug="zz-beta")
    make_org("Alpha Co", slug="yy-alpha")
    small = make_org("Gamma Co", slug="aa-gamma")
    for _ in range(3):
        make_user(Role.STAFF, big)
    make_user(Role.STAFF, small)

    def names(query: str) -> list[str]:
        return _org_names(admin_client.get("/admin/organizations" + query).get_data(as_text=True))

    assert names("") == ["Alpha Co", "beta Co", "Gamma Co"]  # case-insensitive
    assert names("?sort=name&dir=desc") == ["Gamma Co", "beta Co", "Alpha Co"]
    assert names("?sort=slug") == ["Gamma Co", "Alpha Co", "beta Co"]
    assert names("?sort=members") == ["beta Co", "Gamma Co", "Alpha Co"]  # most first
    assert names("?sort=members&dir=asc") == ["Alpha Co", "Gamma Co", "beta Co"]
    assert names("?sort=bogus&dir=sideways") == ["Alpha Co", "beta Co", "Gamma Co"]


def _row_titles(html: str, tbody_marker: str, row_re: str) -> list[str]:
    body = html.split(tbody_marker, 1)[1].split("</tbody>", 1)[0]
    return [unescape(t) for t in re.findall(row_re, body, re.S)]


def test_definitions_sort_by_title_level_and_assigned(admin_client, app, make_definition,
                                                      make_user, make_credential):
    from app.extensions import db
    from app.models import MicroCredentialDefinition
    with app.app_context():  # only this test's definitions (the defaults are seeded)
        db.session.execute(db.delete(MicroCredentialDefinition))
        db.session.commit()
    low = make_definition("b Low", level=2, validity_months=12)
    make_definition("A High", level=7)
    make_definition("C High", level=7, validity_months=24)
    for _ in range(2):
        make_credential(low, make_user(Role.STAFF))

    def titles(query: str) -> list[str]:
        html = admin_client.get("/admin/micro-credentials" + query).get_data(as_text=True)
        return _row_titles(html, 'id="definitions-rows"',
                           r'<tr id="definition-\d+"[^>]*>.*?<strong>([^<]+)</strong>')

    assert titles("") == ["A High", "C High", "b Low"]  # level 10-1, then title A-Z
    assert titles("?sort=level&dir=asc") == ["b Low", "A High", "C High"]
    assert titles("?sort=title") == ["A High", "b Low", "C High"]
    assert titles("?sort=title&dir=desc") == ["C High", "b Low", "A High"]
    assert titles("?sort=assigned") == ["b Low", "A High", "C High"]
    assert titles("?sort=validity&dir=asc") == ["b Low", "C High", "A High"]  # none last
    assert titles("?sort=validity&dir=desc") == ["C High", "b Low", "A High"]  # none last


def test_holders_sort_by_name_status_and_expiry(admin_client, make_definition, make_user,
                                                make_credential, org):
    from datetime import date

    from app.models import CredentialStatus as S
    definition = make_definition("Roofing")
    make_credential(definition, make_user(Role.STAFF, org, name="Zed"), S.AWARDED,
                    expiry_date=date(2031, 1, 1))
    make_credential(definition, make_user(Role.STAFF, org, name="amy"), S.IN_TRAINING)
    make_credential(definition, make_user(Role.STAFF, org, name="Bea"), S.AWARDED,
                    expiry_date=date(2030, 1, 1))

    def names(query: str) -> list[str]:
        html = admin_client.get(f"/admin/micro-credentials/{definition.id}/staff{query}").get_data(
            as_text=True)
        return _row_titles(html, "<tbody>", r'<a href="/people/\d+"[^>]*>([^<]+)</a>')

    assert names("") == ["amy", "Bea", "Zed"]
    assert names("?sort=name&dir=desc") == ["Zed", "Bea", "amy"]
    assert names("?sort=status") == ["amy", "Bea", "Zed"]  # In training before Awarded
    assert names("?sort=status&dir=desc") == ["Bea", "Zed", "amy"]
    assert names("?sort=expires") == ["Bea", "Zed", "amy"]  # soonest first, none last
    assert names("?sort=expires&dir=desc") == ["Zed", "Bea", "amy"]
    html = admin_client.get(f"/admin/micro-credentials/{definition.id}/staff?sort=expires&status=AWARDED").get_data(as_text=True)
    assert '<input type="hidden" name="sort" value="expires" form="holder-filters">' in html


def test_tracks_sort_by_name_level_and_hours_active_first(manager_client, make_track):
    from app.models import TrackLevel
    make_track("b Basics", exam=False, level=TrackLevel.ADVANCED, estimated_hours=2)
    make_track("A Advanced", exam=False, level=TrackLevel.FOUNDATION, estimated_hours=8)
    make_track("C Core", exam=False, level=TrackLevel.INTERMEDIATE)
    old = make_track("Archived", exam=False, level=TrackLevel.FOUNDATION, estimated_hours=1)
    manager_client.post(f"/admin/tracks/{old.id}/active", data={"active": "0"})

    def names(query: str) -> list[str]:
        html = manager_client.get("/admin/tracks" + query).get_data(as_text=True)
        return _row_titles(html, "<tbody>", r'<tr id="track-\d+"[^>]*>.*?<strong>([^<]+)</strong>')

    shown = names("")
    assert shown[:3] == ["A Advanced", "b Basics", "C Core"]
    assert names("?sort=name&dir=desc")[:3] == ["C Core", "b Basics", "A Advanced"]
    assert names("?sort=level")[:3] == ["A Advanced", "C Core", "b Basics"]  # F, I, A
    assert names("?sort=level&dir=desc")[:3] == ["b Basics", "C Core", "A Advanced"]
    assert names("?sort=hours")[:3] == ["b Basics", "A Advanced", "C Core"]  # none last
    # Deactivated: after every active track, whatever the sort.
    assert shown[-1] == "Archived" and names("?sort=hours")[-1] == "Archived"


SORTED_LISTS.extend(["/admin/micro-credentials", "/admin/tracks"])


def test_org_progress_and_certificates_sort(app, org_admin_client, make_user, make_track,
                                            org, issue):
    from app.extensions import db
    from app.models import CertificationTrack
    from app.models import User as U
    from app.services import training
    from app.services.context import Actor
    zed, amy = make_user(Role.STAFF, org, name="Zed"), make_user(Role.STAFF, org, name="amy")
    roofing, cladding = make_track("Roofing", exam=False), make_track("Cladding", exam=False)
    with app.app_context():
        for user in (zed, amy):
            for track in (roofing, cladding):
                training.enrol(db.session.get(U, user.id), db.session.get(
                    CertificationTrack, track.id), Actor.system())
        db.session.commit()

    def rows(path: str, query: str) -> list[tuple[str, str]]:
        html = org_admin_client.get(path + query).get_data(as_text=True)
        body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        return re.findall(r'<a href="/people/\d+"[^>]*>([^<]+)</a></td>\s*<td>([A-Za-z]+)', body)

    assert rows("/org/progress", "") == [("amy", "Cladding"), ("amy", "Roofing"),
                                         ("Zed", "Cladding"), ("Zed", "Roofing")]
    assert rows("/org/progress", "?sort=track") == [("amy", "Cladding"), ("Zed", "Cladding"),
                                                    ("amy", "Roofing"), ("Zed", "Roofing")]
    assert rows("/org/progress", "?sort=person&dir=desc")[0][0] == "Zed"

    first = issue(zed, track=roofing)
    second = issue(amy, track=cladding)
    html = org_admin_client.get("/org/certificates").get_data(as_text=True)
    assert html.index(f'id="certificate-{second.id}"') < html.index(f'id="certificate-{first.id}"')
    html = org_admin_client.get("/org/certificates?sort=issued&dir=asc").get_data(as_text=True)
    assert html.index(f'id="certificate-{first.id}"') < html.index(f'id="certificate-{second.id}"')
    html = org_admin_client.get("/org/certificates?sort=person&dir=desc").get_data(as_text=True)
    assert html.index(f'id="certificate-{first.id}"') < html.index(f'id="certificate-{second.id}"')
    assert 'form="org-filters"' in html and 'id="org-filters"' in html
    for bad in ("?sort=%27;drop&dir=up", "?sort=__init__", "?dir=" + "x" * 500):
        assert org_admin_client.get("/org/progress" + bad).status_code == 200
        assert org_admin_client.get("/org/certificates" + bad).status_code == 200


def test_certificates_issued_oldest_first_and_the_cursor_keeps_it(app, admin_client, make_user,
                                                                  make_track, org, issue):
    from datetime import UTC, datetime, timedelta

    from app.extensions import db
    from app.models import Certificate
    track = make_track("Roofing", exam=False)
    ids = []
    for n in range(4):
        ids.append(issue(make_user(Role.STAFF, org, name=f"Holder {n}"), track=track).id)
    with app.app_context():  # issued a day apart, the first the oldest
        for n, id_ in enumerate(ids):
            db.session.get(Certificate, id_).issued_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)
        db.session.commit()
    app.config["PAGE_SIZE"] = 3

    def order(query: str) -> list[int]:
        html = admin_client.get("/admin/certificates" + query).get_data(as_text=True)
        return [int(i) for i in re.findall(r'<tr id="certificate-(\d+)"', html)]

    assert order("?status=issued") == ids[::-1][:3]
    html = admin_client.get("/admin/certificates?status=issued&sort=issued&dir=asc").get_data(
        as_text=True)
    assert [int(i) for i in re.findall(r'<tr id="certificate-(\d+)"', html)] == ids[:3]
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a class="sort-link"[^>]*>Issued', html)
    assert '<input type="hidden" name="dir" value="asc" form="certificate-filters">' in html
    older = unescape(re.search(r'href="([^"]*after=[^"]*)"[^>]*rel="next"', html).group(1))
    assert "dir=asc" in older and re.search(r"after=[0-9]+\.[0-9]+\.r", older)
    assert order(older.removeprefix("/admin/certificates")) == ids[3:]
    # The newest-first list refuses an oldest-first cursor, in words (never a 500).
    cursor = re.search(r"after=([^&]+)", older).group(1)
    assert admin_client.get(f"/admin/certificates?status=issued&after={cursor}").status_code == 422
    assert re.search(r'rel="next">Newer →', html)  # oldest first: the next page is newer
    # Sorts no index serves are not offered: asking for them gives the default order.
    assert order("?status=issued&sort=expires&dir=asc") == ids[::-1][:3]
    assert order("?status=issued&sort=recipient") == ids[::-1][:3]


SORTED_LISTS.extend(["/admin/certificates", "/admin/certificates?status=issued"])


def test_audit_trail_newest_or_oldest_first_across_pages(app, admin_client):
    from app.extensions import db
    from app.models import AuditAction
    from app.services import audit
    from app.services.context import Actor
    with app.app_context():
        for n in range(5):
            audit.record(Actor.system(), AuditAction.UPDATE, "organization", n + 1,
                         {"note": f"entry {n}"})
        db.session.commit()
    app.config["PAGE_SIZE"] = 3

    def seqs(query: str) -> tuple[list[int], str | None]:
        html = admin_client.get("/admin/audit" + query).get_data(as_text=True)
        older = re.search(r'href="([^"]*after=[^"]*)"[^>]*rel="next"', html)
        return ([int(s) for s in re.findall(r'aria-label="Entry (\d+):', html)],
                unescape(older.group(1)) if older else None)

    newest, _ = seqs("")
    assert newest == sorted(newest, reverse=True)
    oldest, older = seqs("?sort=seq&dir=asc")
    assert oldest == sorted(oldest) and oldest[0] == 1
    assert older and "dir=asc" in older and ".r" in older
    rest, _ = seqs(older.removeprefix("/admin/audit"))
    assert rest and min(rest) > max(oldest) and rest == sorted(rest)
    html = admin_client.get("/admin/audit?sort=seq&dir=asc").get_data(as_text=True)
    assert re.search(r'aria-sort="ascending">\s*<a class="sort-link"[^>]*>When \(UTC\)', html)
    assert 'form="audit-filters"' in html
    assert re.search(r'rel="next">Newer →', html)


def test_pending_cards_offer_both_index_backed_orders(app, admin_client, make_user, make_track,
                                                      org):
    from datetime import UTC, datetime, timedelta

    from app.extensions import db
    from app.models import Certificate
    from tests.conftest import pending_certificate
    ids = []
    for n in range(3):
        track = make_track(f"Track {n}", exam=False)
        ids.append(pending_certificate(app, make_user(Role.STAFF, org), track))
    with app.app_context():
        for n, id_ in enumerate(ids):
            db.session.get(Certificate, id_).recommended_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)
        db.session.commit()

    def order(query: str) -> list[int]:
        html = admin_client.get("/admin/certificates?status=pending" + query).get_data(as_text=True)
        return sorted(ids, key=lambda i: html.index(f'certificate-{i}"'))

    assert order("") == ids
    assert order("&sort=recommended&dir=desc") == ids[::-1]
    html = admin_client.get("/admin/certificates?status=pending&sort=recommended&dir=desc").get_data(as_text=True)
    assert '<strong aria-current="true">newest first</strong>' in html
    assert 'id="sort-pending-asc"' in html


SORTED_LISTS.append("/admin/audit")


def test_a_list_drawn_by_a_row_url_with_a_clashing_query_argument(admin_client, make_user,
                                                                  make_definition):
    """A row's own URL without htmx draws the list (and its sort headers): a query
    argument named like the path's (?user_id= on /admin/users/<user_id>) is no 500."""
    user = make_user(Role.STAFF)
    definition = make_definition("Clash")
    assert admin_client.get(f"/admin/users/{user.id}?user_id=7").status_code == 200
    page = admin_client.get(f"/admin/micro-credentials/{definition.id}/edit?definition_id=x")
    assert page.status_code == 200 and "sort-link" in page.get_data(as_text=True)
