"""The keygate console in a real browser against a real `keygate serve`.

Each test drives the page as a person would and checks what the page shows and
what the API answers. Keys a test needs are made through the HTTP API, except
where making them through the page is what is being tested.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
STORAGE_KEY = "keygate.session"


# How a person uses the page


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.locator("#keys-table")).not_to_have_attribute("aria-busy", "true")


def key_row(page: Page, key_id: str):
    return page.locator(f'#keys-rows tr[data-key-id="{key_id}"]')


def row_names(page: Page) -> list[str]:
    return page.locator("#keys-rows .key-name").all_inner_texts()


def choose_action(page: Page, key_name: str, action: str) -> None:
    page.get_by_role("button", name=f"Actions for {key_name}", exact=True).click()
    page.get_by_role("menuitem", name=action, exact=True).click()


def menu_items(page: Page, key_name: str) -> list[str]:
    """The labels of a row's menu items, in order (without the reasons shown under disabled ones)."""
    button = page.get_by_role("button", name=f"Actions for {key_name}", exact=True)
    button.click()
    menu = page.get_by_role("menu", name=f"Actions for {key_name}")
    expect(menu).to_be_visible()
    items = menu.locator(".menu-item-label").all_inner_texts()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    return items


def toasts(page: Page):
    return page.locator("#toasts .toast")


def close_shown_once(page: Page) -> None:
    """Closes the shown-once dialog without copying the key: the page asks, the test confirms."""
    shown = page.locator("#secret-dialog")
    shown.get_by_role("button", name="Done").click()
    confirm = page.get_by_role("dialog", name="Close without copying the key?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Close without copying").click()
    expect(shown).to_be_hidden()


def in_view(page: Page, locator) -> bool:
    """Whether the element is wholly inside the window."""
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]


def stored_everywhere(page: Page) -> str:
    """Everything the page keeps where a key could linger: DOM, form values, storage, cookies."""
    return page.evaluate(
        """() => [
            document.documentElement.outerHTML,
            ...[...document.querySelectorAll('input, textarea, select')].map((e) => e.value),
            JSON.stringify(Object.entries(sessionStorage)),
            JSON.stringify(Object.entries(localStorage)),
            document.cookie,
        ].join('\\n')"""
    )


def assert_page_forgot(page: Page, key: str) -> None:
    """After the shown-once dialog closes (its close event clears it), the key is nowhere."""
    page.wait_for_function("key => !document.documentElement.outerHTML.includes(key)", arg=key)
    assert key not in stored_everywhere(page)


def session_storage(page: Page) -> dict:
    return page.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))")


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Sign-in


def test_sign_in_with_the_printed_key_then_sign_out(page, console_url, keygate, api):
    sign_in(page, console_url, keygate.root_key)

    identity = page.locator("#identity")
    root = api.get_key(keygate.root_key.split("_")[1][:22])
    expect(identity).to_contain_text(root["org_id"])
    expect(identity).to_contain_text(root["name"])
    expect(identity).to_contain_text(root["hint"])
    expect(key_row(page, root["id"])).to_contain_text("your key")
    assert session_storage(page) == {STORAGE_KEY: keygate.root_key}
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []
    assert keygate.root_key not in page.url

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    # Signing out is information, said politely, not an error.
    expect(page.get_by_role("status").filter(has_text="You signed out")).to_be_visible()
    expect(page.locator("#signin-message")).to_be_empty()
    assert session_storage(page) == {}
    assert keygate.root_key not in stored_everywhere(page)


def test_wrong_keys_stay_on_sign_in_with_a_message(page, console_url, keygate, api):
    page.goto(console_url)
    key_field = page.get_by_label("API key", exact=True)
    message = page.locator("#signin-message")

    key_field.fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(message).to_contain_text("not a keygate API key")

    # Well-formed, but the last character breaks the checksum: the API denies it.
    last = keygate.root_key[-1]
    forged = keygate.root_key[:-1] + ("A" if last != "A" else "B")
    key_field.fill(forged)
    page.get_by_role("button", name="Sign in").click()
    expect(message).to_contain_text("did not accept this key")

    # A valid key without api-keys:read is told what it lacks.
    reader = api.create_key("runs-reader", permissions=["runs:read"])
    key_field.fill(reader["key"])
    page.get_by_role("button", name="Sign in").click()
    expect(message).to_contain_text("lacks api-keys:read")

    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    expect(page.locator("#console-view")).to_be_hidden()
    expect(key_field).to_have_attribute("aria-invalid", "true")
    assert session_storage(page) == {}


def test_a_key_denied_mid_session_returns_to_sign_in(page, console_url, api):
    viewer = api.create_key("viewer", permissions={"preset": "read_only"})
    sign_in(page, console_url, viewer["key"])
    expect(page.locator("#identity")).to_contain_text("viewer")

    status, _ = api.call("POST", f"/v1/api-keys/{viewer['id']}/suspend")
    assert status == 200
    page.get_by_role("link", name="Active").click()

    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    expect(page.locator("#signin-message")).to_contain_text("denied your key")
    assert session_storage(page) == {}


def test_the_sign_in_key_stays_out_of_saved_passwords(page, console_url, keygate):
    # Browsers offer to save what a submitted form's password field held, and
    # Chromium ignores autocomplete="off" there: the key field is a text field
    # masked by CSS, so the form has no password field for a manager to save.
    page.goto(console_url)
    field = page.get_by_label("API key", exact=True)
    assert page.locator("input[type=password]").count() == 0
    expect(field).to_have_attribute("type", "text")
    expect(field).to_have_attribute("autocomplete", "off")
    expect(field).to_have_attribute("autocapitalize", "off")
    expect(field).to_have_attribute("spellcheck", "false")
    assert field.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"  # shown as dots
    field.fill(keygate.root_key)
    show = page.get_by_role("button", name="Show key")
    show.click()
    expect(page.get_by_role("button", name="Hide key")).to_have_attribute("aria-pressed", "true")
    assert field.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "none"
    page.get_by_role("button", name="Hide key").click()
    assert field.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    # The field is emptied once the key is accepted.
    assert keygate.root_key not in page.evaluate("() => [...document.querySelectorAll('input')].map(e => e.value).join()")


# Create, shown once


def test_create_a_scoped_key_from_a_preset_shown_once(page, console_url, keygate, api):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    _, catalog = api.call("GET", "/v1/scopes")
    preset = sorted(catalog["presets"]["run_evaluations"])
    sign_in(page, console_url, keygate.root_key)

    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("evaluations-ci")
    dialog.get_by_label("Description").fill("Runs the nightly evaluations")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    dialog.get_by_role("button", name="Run Evaluations").click()
    checked = sorted(dialog.locator("input[name=scope]:checked").evaluate_all("boxes => boxes.map(b => b.value)"))
    assert checked == preset
    dialog.get_by_label("Expires").select_option(label="In 30 days")
    dialog.get_by_role("button", name="Create key").click()

    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text("will not be shown again")
    new_key = page.locator("#secret-value").inner_text().strip()
    assert re.fullmatch(r"kg_[0-9A-Za-z]{65}", new_key)
    assert api.works(new_key)  # the shown key authenticates against the API

    shown.get_by_role("button", name="Copy key").click()
    expect(shown).to_contain_text("copied to the clipboard")
    assert page.evaluate("() => navigator.clipboard.readText()") == new_key

    record = api.get_key(new_key.split("_")[1][:22])
    assert record["scopes"] == preset
    assert record["description"] == "Runs the nightly evaluations"
    expires = datetime.fromisoformat(record["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)

    shown.get_by_role("button", name="Done").click()  # copied: closes without asking
    expect(shown).to_be_hidden()
    expect(page.get_by_role("button", name="Create key")).to_be_focused()
    row = key_row(page, record["id"])
    expect(row).to_contain_text("evaluations-ci")
    expect(row).to_contain_text("Run Evaluations")
    expect(row).to_contain_text("never")  # last used
    expect(row).to_have_class(re.compile("is-highlighted"))
    expect(page.get_by_role("status").filter(has_text="Created “evaluations-ci”")).to_be_visible()
    assert_page_forgot(page, new_key)


def test_create_checks_its_fields_in_the_page_before_calling_the_api(page, console_url, keygate, api, screenshots):
    sign_in(page, console_url, keygate.root_key)
    creates = []
    page.on("request", lambda r: creates.append(r) if r.method == "POST" and r.url.endswith("/v1/api-keys") else None)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    name = dialog.get_by_label("Name")

    # Full access is the default, with the advice beside it.
    expect(dialog.get_by_role("radio", name=re.compile("^Full access"))).to_be_checked()
    expect(dialog.locator("#create-full-choice")).to_contain_text("Avoid full access keys in production")

    dialog.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-name-error")).to_contain_text("Name is required: 1–100 characters")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_be_focused()
    name.fill("x" * 101)
    expect(page.locator("#create-name-error")).to_be_hidden()  # the error goes once the field changes
    expect(name).not_to_have_attribute("aria-invalid", "true")
    dialog.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-name-error")).to_contain_text("(it has 101)")

    name.fill("ada's key")
    dialog.get_by_label("Description").fill("d" * 501)
    dialog.get_by_role("radio", name=re.compile("^User")).check()
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    dialog.get_by_label("Expires").select_option(label="On a date…")
    dialog.get_by_label("Expiry date").fill("2001-01-01")
    dialog.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-name-error")).to_be_hidden()
    expect(page.locator("#create-description-error")).to_contain_text("at most 500 characters (it has 501)")
    expect(page.locator("#create-owner-error")).to_contain_text("Owner is required for a user key")
    expect(page.locator("#create-permissions-error")).to_contain_text("at least one scope")
    expect(page.locator("#create-expires_at-error")).to_contain_text("must be in the future")
    expect(dialog.get_by_label("Description")).to_be_focused()  # the first field in error
    page.screenshot(path=screenshots / "create-validation.png")
    assert serious_violations(page) == []
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "create-validation-375px.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert creates == []  # none of this reached the API

    dialog.get_by_label("Description").fill("For Ada")
    dialog.get_by_label("Owner").fill("ada@example.com")
    dialog.get_by_role("checkbox", name="read").first.check()
    expect(page.locator("#create-permissions-error")).to_be_hidden()
    dialog.get_by_label("Expiry date").fill("")  # no date: the key never expires
    expect(page.locator("#create-expires_at-error")).to_be_hidden()
    for error in ("description", "owner", "permissions", "expires_at"):
        expect(page.locator(f"#create-{error}-error")).to_be_hidden()
    dialog.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("dialog", name="Copy your new key")).to_be_visible()
    close_shown_once(page)
    status, listing = api.call("GET", "/v1/api-keys")
    made = [k for k in listing["data"] if k["name"] == "ada's key"]
    assert len(made) == 1
    assert (made[0]["key_type"], made[0]["owner"], made[0]["expires_at"]) == ("user", "ada@example.com", None)


def test_create_shows_api_errors_next_to_their_fields(page, console_url, keygate, api):
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_label("Name").fill("invisible")
    # A zero-width space passes the page's length check; the API refuses it and names the field.
    dialog.get_by_label("Description").fill("zero\u200bwidth")
    dialog.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-description-error")).to_contain_text("invisible formatting characters")
    expect(dialog.get_by_label("Description")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Description")).to_be_focused()
    dialog.get_by_label("Description").fill("visible")
    expect(page.locator("#create-description-error")).to_be_hidden()
    dialog.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("dialog", name="Copy your new key")).to_be_visible()


def test_presets_say_which_one_is_applied(page, console_url, keygate, api):
    _, catalog = api.call("GET", "/v1/scopes")
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    status = dialog.locator("#preset-status")
    expect(status).to_contain_text("No scopes picked yet")

    read_only = dialog.get_by_role("button", name="Read Only")
    read_only.click()
    expect(read_only).to_have_attribute("aria-pressed", "true")
    expect(dialog.get_by_role("button", name="Run Evaluations")).to_have_attribute("aria-pressed", "false")
    expect(status).to_have_text("Preset applied: Read Only.")

    # A scope changed by hand: the preset no longer applies.
    first = catalog["presets"]["read_only"][0]
    dialog.locator(f'input[name=scope][value="{first}"]').uncheck()
    expect(status).to_have_text("Custom scopes: no preset applies.")
    expect(read_only).to_have_attribute("aria-pressed", "false")
    dialog.locator(f'input[name=scope][value="{first}"]').check()
    expect(status).to_have_text("Preset applied: Read Only.")


def test_each_scope_says_what_it_allows_in_the_catalogs_words(page, console_url, keygate, api):
    _, catalog = api.call("GET", "/v1/scopes")
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    for resource in catalog["resources"]:
        for action in resource["actions"]:
            label = dialog.locator("label.scope", has=page.locator(f'input[value="{action["scope"]}"]'))
            expect(label.locator(".scope-description")).to_have_text(action["description"])
    runs = dialog.locator("fieldset.scope-group", has=page.locator("legend", has_text="runs"))
    expect(runs.locator("label.scope", has=page.locator('input[value="runs:write"]'))).to_contain_text(
        "Start, change and cancel runs."
    )


def test_a_limited_key_cannot_pick_what_it_does_not_hold(page, console_url, api):
    limited = api.create_key(
        "team-admin", permissions=["api-keys:read", "api-keys:write", "runs:read", "agents:read"]
    )
    sign_in(page, console_url, limited["key"])
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")

    expect(dialog.get_by_role("radio", name=re.compile("^Full access"))).to_be_disabled()
    expect(dialog.get_by_role("radio", name=re.compile("^Scoped"))).to_be_checked()
    expect(dialog).to_contain_text("only a full-access key can create one")

    def box(scope):
        return dialog.locator(f'input[name=scope][value="{scope}"]')

    for held in ("runs:read", "agents:read", "api-keys:read", "api-keys:write"):
        expect(box(held)).to_be_enabled()
    for stronger in ("runs:write", "agents:write", "api-keys:delete", "metrics:read"):
        expect(box(stronger)).to_be_disabled()
        expect(box(stronger)).to_have_attribute("title", re.compile("does not hold"))
    expect(dialog.get_by_role("button", name="Run Evaluations")).to_have_attribute("aria-disabled", "true")
    dialog.get_by_role("button", name="Run Evaluations").click(force=True)  # a click does nothing
    assert dialog.locator("input[name=scope]:checked").count() == 0

    box("runs:read").check()
    dialog.get_by_label("Name").fill("runs-only")
    dialog.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("dialog", name="Copy your new key")).to_be_visible()


# Lifecycle from the row menu


def test_suspend_reactivate_revoke_delete(page, console_url, keygate, api):
    victim = api.create_key("ci-deployer")
    sign_in(page, console_url, keygate.root_key)
    row = key_row(page, victim["id"])

    choose_action(page, "ci-deployer", "Suspend")
    expect(row.locator(".badge")).to_have_text(["Suspended"])
    expect(page.get_by_role("status").filter(has_text="Suspended “ci-deployer”")).to_be_visible()
    assert not api.works(victim["key"])  # denied at once

    assert "Suspend" not in menu_items(page, "ci-deployer")
    choose_action(page, "ci-deployer", "Reactivate")
    expect(row.locator(".badge")).to_have_text(["Active"])
    assert api.works(victim["key"])

    choose_action(page, "ci-deployer", "Revoke…")
    revoke = page.get_by_role("dialog", name="Revoke key")
    expect(revoke).to_contain_text("permanent")
    revoke.get_by_role("button", name="Revoke key").click()
    expect(page.locator("#revoke-reason-error")).to_contain_text("Reason")
    expect(revoke).to_be_visible()
    assert api.get_key(victim["id"])["status"] == "active"
    assert api.works(victim["key"])

    revoke.get_by_label("Reason").fill("leaked in a CI log")
    revoke.get_by_role("button", name="Revoke key").click()
    expect(revoke).to_be_hidden()
    expect(row.locator(".badge")).to_have_text(["Revoked"])
    record = api.get_key(victim["id"])
    assert (record["status"], record["revoked_reason"]) == ("revoked", "leaked in a CI log")
    assert not api.works(victim["key"])
    expect(page.get_by_role("status").filter(has_text="Revoked “ci-deployer”")).to_be_visible()
    assert menu_items(page, "ci-deployer") == ["Details", "Edit…", "History", "Delete…"]

    choose_action(page, "ci-deployer", "Delete…")
    confirm = page.get_by_role("dialog", name="Delete key")
    expect(confirm).to_contain_text("permanent")
    confirm.get_by_role("button", name="Delete key").click()
    expect(row).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Deleted “ci-deployer”")).to_be_visible()
    status, _ = api.call("GET", f"/v1/api-keys/{victim['id']}")
    assert status == 404


def test_actions_the_key_lacks_the_scope_for_are_disabled_with_the_reason(page, console_url, api):
    writer = api.create_key("writer", permissions=["api-keys:read", "api-keys:write", "runs:read"])
    target = api.create_key("target", permissions=["runs:read"])
    sign_in(page, console_url, writer["key"])

    page.get_by_role("button", name="Actions for target", exact=True).click()
    delete = page.get_by_role("menuitem", name="Delete…")
    expect(delete).to_have_attribute("aria-disabled", "true")
    expect(delete).to_have_accessible_description(re.compile("lacks api-keys:delete"))
    expect(delete).to_contain_text("Your key lacks api-keys:delete")
    delete.click(force=True)  # says why, does nothing
    expect(page.get_by_role("dialog", name="Delete key")).to_be_hidden()
    expect(page.get_by_role("menuitem", name="Suspend")).not_to_have_attribute("aria-disabled", "true")
    assert api.get_key(target["id"])["status"] == "active"


def test_a_read_only_key_is_offered_only_what_it_can_do(page, console_url, api, screenshots):
    reader = api.create_key("auditor", permissions={"preset": "read_only"})
    api.create_key("ci-deployer")
    sign_in(page, console_url, reader["key"])

    create = page.get_by_role("button", name="Create key")
    expect(create).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#create-key-reason")).to_have_text(
        "Your key lacks api-keys:write, which is needed to create a key."
    )
    expect(create).to_have_accessible_description(re.compile("lacks api-keys:write"))
    create.click(force=True)  # a click does nothing
    expect(page.get_by_role("dialog", name="Create key")).to_be_hidden()

    page.get_by_role("button", name="Actions for ci-deployer", exact=True).click()
    menu = page.get_by_role("menu", name="Actions for ci-deployer")
    for action, scope in (("Suspend", "api-keys:write"), ("Rotate…", "api-keys:write"),
                          ("Revoke…", "api-keys:write"), ("Delete…", "api-keys:delete")):
        item = menu.get_by_role("menuitem", name=action)
        expect(item).to_have_attribute("aria-disabled", "true")
        expect(item).to_contain_text(f"lacks {scope}")
    for action in ("Details", "History"):
        expect(menu.get_by_role("menuitem", name=action)).not_to_have_attribute("aria-disabled", "true")
    page.screenshot(path=screenshots / "read-only-menu.png")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "read-only-375px.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Actions for ci-deployer", exact=True).click()
    menu.get_by_role("menuitem", name="Suspend").click(force=True)
    expect(menu).to_be_visible()  # a disabled item does not close the menu or act
    page.keyboard.press("Escape")
    assert serious_violations(page) == []
    listing = api.call("GET", "/v1/api-keys")[1]["data"]
    assert [k["status"] for k in listing if k["name"] == "ci-deployer"] == ["active"]


def test_what_is_offered_follows_the_openapi_document(page, console_url, api):
    # The console learns each route's scope from /openapi.json, not from a copy:
    # a document that says suspend needs api-keys:delete makes Suspend unavailable
    # to a key that holds only read and write (and covers the target's scopes).
    writer = api.create_key("writer", permissions=["api-keys:read", "api-keys:write", "runs:read"])
    api.create_key("target", permissions=["runs:read"])

    def changed_document(route):
        document = route.fetch().json()
        for item in document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("operationId") == "suspend-key":
                    operation["x-required-scope"] = "api-keys:delete"
        route.fulfill(json=document)

    page.route("**/openapi.json", changed_document)
    sign_in(page, console_url, writer["key"])
    page.get_by_role("button", name="Actions for target", exact=True).click()
    suspend = page.get_by_role("menuitem", name="Suspend")
    expect(suspend).to_have_attribute("aria-disabled", "true")
    expect(suspend).to_contain_text("Your key lacks api-keys:delete.")
    expect(page.get_by_role("menuitem", name="Revoke…")).not_to_have_attribute("aria-disabled", "true")


def test_suspending_or_revoking_your_own_key_asks_first(page, console_url, keygate, api, screenshots):
    root_id = keygate.root_key.split("_")[1][:22]
    sign_in(page, console_url, keygate.root_key)

    choose_action(page, "root", "Suspend")
    confirm = page.get_by_role("dialog", name="Suspend your own key?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("signs you out")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    page.screenshot(path=screenshots / "own-key-confirm.png")
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("button", name="Actions for root", exact=True)).to_be_focused()
    assert api.get_key(root_id)["status"] == "active"

    choose_action(page, "root", "Revoke…")
    revoke = page.get_by_role("dialog", name="Revoke key")
    expect(revoke).to_contain_text("You are signed in with this key: revoking it signs you out.")
    page.keyboard.press("Escape")

    choose_action(page, "root", "Suspend")
    page.get_by_role("dialog", name="Suspend your own key?").get_by_role("button", name="Suspend and sign out").click()
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    expect(page.locator("#signin-info")).to_contain_text("You suspended the key you were signed in with")
    assert session_storage(page) == {}
    assert not api.works(keygate.root_key)


def test_menus_and_dialogs_work_from_the_keyboard(page, console_url, keygate, api):
    api.create_key("keyboard-key")
    sign_in(page, console_url, keygate.root_key)
    button = page.get_by_role("button", name="Actions for keyboard-key")

    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("menuitem", name="Details")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Edit…")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Suspend")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Rotate…")).to_be_focused()
    page.keyboard.press("End")  # destructive actions come last, after a separator
    expect(page.get_by_role("menuitem", name="Delete…")).to_be_focused()
    page.keyboard.press("ArrowDown")  # wraps
    expect(page.get_by_role("menuitem", name="Details")).to_be_focused()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()

    page.keyboard.press("ArrowUp")  # opens on the last item
    expect(page.get_by_role("menuitem", name="Delete…")).to_be_focused()
    page.keyboard.press("ArrowUp")  # the separator is skipped
    expect(page.get_by_role("menuitem", name="Revoke…")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(page.get_by_role("menuitem", name="History")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Revoke key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()

    page.get_by_role("button", name="Create key").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Create key")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Create key")).to_be_focused()


# Tabs and paging


def test_status_tabs_filter_through_the_api_and_live_in_the_fragment(page, console_url, keygate, api):
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("link", name="Suspended").click()
    expect(page.locator("#keys-empty")).to_contain_text("No suspended keys")

    active = api.create_key("still-active")
    suspended = api.create_key("paused")
    revoked = api.create_key("gone")
    api.call("POST", f"/v1/api-keys/{suspended['id']}/suspend")
    api.call("POST", f"/v1/api-keys/{revoked['id']}/revoke", {"reason": "test"})

    page.get_by_role("link", name="All").click()
    expect(page.locator("#keys-rows tr")).to_have_count(4)
    assert row_names(page) == ["gone", "paused", "still-active", "root"]  # newest first

    page.get_by_role("link", name="Suspended").click()
    expect(page).to_have_url(re.compile("#keys/suspended$"))
    expect(page.locator("#keys-rows .key-name")).to_have_text(["paused"])
    page.reload()
    expect(page.get_by_role("link", name="Suspended")).to_have_attribute("aria-current", "page")
    expect(page.locator("#keys-rows .key-name")).to_have_text(["paused"])

    page.get_by_role("link", name="Revoked").click()
    expect(page.locator("#keys-rows .key-name")).to_have_text(["gone"])
    page.get_by_role("link", name="Active").click()
    expect(page.locator("#keys-rows .key-name")).to_have_text(["still-active", "root"])

    page.go_back()
    expect(page).to_have_url(re.compile("#keys/revoked$"))
    expect(page.locator("#keys-rows .key-name")).to_have_text(["gone"])
    assert active["id"] not in page.locator("#keys-rows").inner_html()


def test_load_more_pages_through_60_keys(page, console_url, keygate, api):
    for n in range(60):
        api.create_key(f"bulk-{n:02d}")
    sign_in(page, console_url, keygate.root_key)

    expect(page.locator("#keys-rows tr")).to_have_count(50)
    assert row_names(page)[:2] == ["bulk-59", "bulk-58"]
    page.get_by_role("button", name="Load more").click()
    expect(page.locator("#keys-rows tr")).to_have_count(61)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    names = row_names(page)
    assert names == [f"bulk-{n:02d}" for n in range(59, -1, -1)] + ["root"]


# Safety


def test_a_hostile_name_renders_as_text_and_runs_nothing(page, page_log, console_url, keygate, api):
    hostile = "<img src=x onerror=alert(1)>"
    api.create_key(hostile, description="<script>alert(2)</script><b>bold</b>")
    sign_in(page, console_url, keygate.root_key)

    expect(page.locator("#keys-rows .key-name").first).to_have_text(hostile)
    expect(page.locator("#keys-rows .key-description").first).to_have_text("<script>alert(2)</script><b>bold</b>")
    assert page.locator("#keys-rows img, #keys-rows script, #keys-rows b").count() == 0

    choose_action(page, hostile, "Revoke…")
    expect(page.locator("#revoke-name")).to_have_text(hostile)
    page.keyboard.press("Escape")
    assert page.locator("dialog img").count() == 0
    assert page_log.dialogs == []
    assert page_log.errors == []


def test_csp_header_and_a_session_without_console_errors(page, page_log, console_url, keygate, api):
    response = page.goto(console_url)
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    script = page.request.get(console_url + "/console/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == CSP

    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    page.get_by_role("dialog", name="Create key").get_by_label("Name").fill("session-key")
    page.get_by_role("dialog", name="Create key").get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown).to_be_visible()
    new_key = page.locator("#secret-value").inner_text().strip()
    assert new_key.startswith("kg_")
    close_shown_once(page)
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("#audit-rows tr.audit-row")).to_have_count(2)
    sections = page.get_by_role("navigation", name="Console sections")
    sections.get_by_role("link", name="API reference").click()
    expect(page.locator("#ref-create-key")).to_be_visible()
    sections.get_by_role("link", name="API keys").click()
    choose_action(page, "session-key", "Suspend")
    expect(page.locator("#keys-rows tr").first.locator(".badge")).to_have_text(["Suspended"])
    choose_action(page, "session-key", "Reactivate")
    expect(page.locator("#keys-rows tr").first.locator(".badge")).to_have_text(["Active"])
    page.get_by_role("link", name="Suspended").click()
    expect(page.locator("#keys-empty")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()

    assert page_log.errors == []
    assert page_log.dialogs == []
    logged = "\n".join(page_log.messages)
    assert keygate.root_key not in logged and new_key not in logged


def test_no_serious_accessibility_violations(page, console_url, keygate, api):
    api.create_key("scoped", permissions={"preset": "upload_conversations"})
    page.goto(console_url)
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    assert serious_violations(page) == []

    sign_in(page, console_url, keygate.root_key)
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="dark")
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="light")

    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    dialog.get_by_role("radio", name=re.compile("^User")).check()
    expect(dialog.locator("#scope-groups input").first).to_be_visible()
    assert serious_violations(page) == []


# Rotation and the audit trail (need POST /v1/api-keys/{id}/rotate and GET /v1/audit-events)


def test_rotate_with_a_grace_period(page, console_url, keygate, api):
    old = api.create_key("rotating", permissions=["runs:read"])
    sign_in(page, console_url, keygate.root_key)

    choose_action(page, "rotating", "Rotate…")
    dialog = page.get_by_role("dialog", name="Rotate key")
    dialog.get_by_label("Keep the old key working for").select_option(label="1 hour")
    dialog.get_by_label("Reason").fill("scheduled rotation")
    dialog.get_by_role("button", name="Rotate key").click()

    shown = page.get_by_role("dialog", name="Copy the new key")
    expect(shown).to_be_visible()
    new_key = page.locator("#secret-value").inner_text().strip()
    assert new_key != old["key"] and api.works(new_key)
    assert api.works(old["key"])  # still inside its grace period
    close_shown_once(page)
    assert_page_forgot(page, new_key)

    successor = api.get_key(new_key.split("_")[1][:22])
    previous = api.get_key(old["id"])
    assert (successor["rotated_from"], previous["rotated_to"]) == (old["id"], successor["id"])
    expires = datetime.fromisoformat(previous["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=55) < expires - datetime.now(timezone.utc) <= timedelta(hours=1)

    expect(key_row(page, successor["id"])).to_contain_text("rotating")
    old_expiry = key_row(page, old["id"]).locator(".expiry")
    expect(old_expiry).to_contain_text("in 1 hour")
    expect(old_expiry).to_have_class(re.compile("expiry-soon"))
    # Both rows carry the name; the old one no longer offers Rotate.
    old_menu = key_row(page, old["id"]).get_by_role("button", name="Actions for rotating")
    old_menu.click()
    expect(key_row(page, old["id"]).locator(".menu-item-label")).to_have_text(
        ["Details", "Edit…", "Suspend", "Limits…", "History", "Revoke…", "Delete…"]
    )


def test_history_lists_the_keys_events(page, console_url, keygate, api):
    key = api.create_key("audited")
    api.call("POST", f"/v1/api-keys/{key['id']}/suspend")
    api.call("POST", f"/v1/api-keys/{key['id']}/reactivate")
    api.create_key("unrelated")
    sign_in(page, console_url, keygate.root_key)

    choose_action(page, "audited", "History")
    panel = page.get_by_role("dialog", name="History of “audited”")
    expect(panel.locator("#history-list > li .badge")).to_have_text(["Reactivated", "Suspended", "Created"])
    expect(panel.locator("#history-list")).to_contain_text("suspended → active")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.get_by_role("button", name="Actions for audited")).to_be_focused()


def test_audit_log_tab_lists_filters_and_pages(page, console_url, keygate, api):
    keys = [api.create_key(f"audit-{n:02d}") for n in range(55)]
    api.call("POST", f"/v1/api-keys/{keys[0]['id']}/revoke", {"reason": "compromised"})
    total, cursor = 0, None
    while True:
        after = f"&cursor={cursor}" if cursor else ""
        status, events = api.call("GET", f"/v1/audit-events?limit=100{after}")
        assert status == 200, events
        total += len(events["data"])
        cursor = events["next_cursor"]
        if not cursor:
            break
    sign_in(page, console_url, keygate.root_key)

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    rows = page.locator("#audit-rows tr.audit-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Revoked")
    expect(rows.first).to_contain_text("compromised")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(total)

    page.get_by_label("Action", exact=True).select_option("revoke")
    expect(page).to_have_url(re.compile("#audit/revoke$"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("audit-00")
    page.reload()
    expect(page.get_by_label("Action", exact=True)).to_have_value("revoke")
    expect(rows).to_have_count(1)


# What it looks like


def test_screenshots_and_a_375px_layout(page, console_url, keygate, api, screenshots):
    api.create_key("ci-deployer", description="Deploys from CI", permissions={"preset": "run_evaluations"})
    api.create_key("ada", key_type="user", owner="ada@example.com", permissions=["runs:read", "traces:read"])
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    paused = api.create_key("nightly-export", expires_at=soon)
    api.call("POST", f"/v1/api-keys/{paused['id']}/suspend")

    page.goto(console_url)
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    page.screenshot(path=screenshots / "sign-in.png")

    sign_in(page, console_url, keygate.root_key)
    expect(page.locator("#keys-rows tr")).to_have_count(4)
    expect(key_row(page, paused["id"]).locator(".expiry")).to_have_class(re.compile("expiry-soon"))
    background = "() => getComputedStyle(document.documentElement).backgroundColor"
    assert page.evaluate(background) == "rgb(245, 246, 248)"  # the light theme's --bg
    page.screenshot(path=screenshots / "keys-light.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(background) == "rgb(14, 17, 22)"  # the dark theme's --bg
    page.screenshot(path=screenshots / "keys-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")

    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_label("Name").fill("billing-sync")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    dialog.get_by_role("button", name="Read Only").click()
    page.screenshot(path=screenshots / "create-dialog.png")
    dialog.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown).to_be_visible()
    page.screenshot(path=screenshots / "shown-once-dialog.png")
    close_shown_once(page)

    choose_action(page, "ci-deployer", "Revoke…")
    revoke = page.get_by_role("dialog", name="Revoke key")
    revoke.get_by_role("button", name="Revoke key").click()
    expect(page.locator("#revoke-reason-error")).to_be_visible()
    page.screenshot(path=screenshots / "revoke-dialog.png")
    page.keyboard.press("Escape")

    page.set_viewport_size({"width": 375, "height": 812})
    for dismiss in toasts(page).get_by_role("button", name="Dismiss").all():
        dismiss.click()
    name = key_row(page, paused["id"]).locator(".cell-name")
    expect(name).to_be_visible()
    assert name.bounding_box()["width"] >= 250  # the name has the card's width, not a squeezed column
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    page.screenshot(path=screenshots / "keys-375px.png", full_page=True)

    for shot in ("sign-in", "keys-light", "keys-dark", "create-dialog", "shown-once-dialog", "revoke-dialog", "keys-375px"):
        assert (screenshots / f"{shot}.png").stat().st_size > 5_000


# Feedback where the user is


def test_feedback_is_a_toast_in_view_announced_and_dismissible(page, console_url, keygate, api, screenshots):
    for n in range(30):
        api.create_key(f"bulk-{n:02d}")
    sign_in(page, console_url, keygate.root_key)
    expect(page.locator("#keys-rows tr")).to_have_count(31)

    # Far down the page, a suspension is said where the user is and the row is marked.
    page.get_by_role("button", name="Actions for bulk-01", exact=True).scroll_into_view_if_needed()
    choose_action(page, "bulk-01", "Suspend")
    done = page.get_by_role("status").locator(".toast").filter(has_text="Suspended “bulk-01”")
    expect(done).to_be_visible()
    assert in_view(page, done)
    assert page.evaluate("() => window.scrollY") > 500  # still far down the page
    row = page.locator("#keys-rows tr").filter(has_text="bulk-01")
    expect(row).to_have_class(re.compile("is-highlighted"))
    assert in_view(page, row)
    page.screenshot(path=screenshots / "toast-success.png")
    done.get_by_role("button", name="Dismiss").click()
    expect(done).to_have_count(0)

    # A refused action is an assertive alert that stays until dismissed.
    bulk_00 = [k for k in api.call("GET", "/v1/api-keys?limit=100")[1]["data"] if k["name"] == "bulk-00"][0]
    api.call("POST", f"/v1/api-keys/{bulk_00['id']}/revoke", {"reason": "behind the page's back"})
    choose_action(page, "bulk-00", "Suspend")
    refused = page.get_by_role("alert").locator(".toast").filter(has_text="Could not suspend “bulk-00”")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("not in a state that allows this")
    assert in_view(page, refused)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "toast-error-dark.png")
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="light")
    page.wait_for_timeout(8500)  # longer than a success toast stays
    expect(refused).to_be_visible()
    refused.get_by_role("button", name="Dismiss").click()
    expect(toasts(page)).to_have_count(0)


def test_a_toast_never_covers_a_dialogs_buttons_at_375px(page, console_url, keygate, api, screenshots):
    api.create_key("first")
    api.create_key("second")
    page.set_viewport_size({"width": 375, "height": 667})
    sign_in(page, console_url, keygate.root_key)
    choose_action(page, "first", "Suspend")
    toast = page.get_by_role("status").locator(".toast").filter(has_text="Suspended “first”")
    expect(toast).to_be_visible()
    page.screenshot(path=screenshots / "toast-375px.png")

    choose_action(page, "second", "Revoke…")
    dialog = page.get_by_role("dialog", name="Revoke key")
    expect(dialog).to_be_visible()
    for name in ("Cancel", "Revoke key"):
        button = dialog.get_by_role("button", name=name)
        box = button.bounding_box()
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.textContent.trim()",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert on_top == name  # what a tap there reaches
    page.screenshot(path=screenshots / "toast-and-dialog-375px.png")


def test_a_successor_comes_into_view_focused_and_marked(page, console_url, keygate, api):
    for n in range(30):
        api.create_key(f"bulk-{n:02d}")
    page.emulate_media(reduced_motion="reduce")
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Actions for bulk-00", exact=True).scroll_into_view_if_needed()
    choose_action(page, "bulk-00", "Rotate…")
    page.get_by_role("dialog", name="Rotate key").get_by_role("button", name="Rotate key").click()
    close_shown_once(page)

    successor = page.locator("#keys-rows tr").first
    expect(successor).to_contain_text("Rotated from “bulk-00”")
    expect(successor).to_have_class(re.compile("is-highlighted"))
    expect(successor.locator(".key-name")).to_be_focused()
    expect(successor).to_be_in_viewport(ratio=1)
    # Reduced motion: the mark is still, not animated.
    cell = successor.locator("td").first
    assert cell.evaluate("e => getComputedStyle(e).animationName") == "none"
    assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 240, 179)"  # --highlight
    expect(page.get_by_role("status").filter(has_text="Rotated “bulk-00”")).to_be_visible()
    old = page.locator("#keys-rows tr").filter(has_text="Rotated to")
    expect(old).to_have_count(1)
    expect(old).to_contain_text("bulk-00")


# The shown-once key


def test_the_shown_once_key_asks_before_it_is_lost_and_shows_how_to_use_it(page, console_url, keygate, api, screenshots):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_label("Name").fill("deployer")
    dialog.get_by_role("radio", name=re.compile("^Scoped")).check()
    dialog.get_by_role("button", name="Run Evaluations").click()
    dialog.get_by_label("Expires").select_option(label="In 90 days")
    dialog.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown).to_be_visible()
    new_key = page.locator("#secret-value").inner_text().strip()

    # What the key can do, and how to use it: each line with its own copy button.
    summary = shown.locator("#secret-summary")
    expect(summary).to_contain_text("Run Evaluations")
    expect(summary).to_contain_text("runs:write")
    expect(summary).to_contain_text("in 3 months")
    snippets = {
        "Copy curl command": f'curl -H "X-API-Key: {new_key}" {console_url}/v1/scopes',
        "Copy environment variables": f"export KEYGATE_API_URL={console_url}\nexport KEYGATE_API_KEY={new_key}",
        "Copy workflow lines": (
            f"env:\n  KEYGATE_API_URL: {console_url}\n  KEYGATE_API_KEY: ${{{{ secrets.KEYGATE_API_KEY }}}}"
        ),
    }
    for button, text in snippets.items():
        shown.get_by_role("button", name=button).click()
        expect(shown.locator("#secret-copied")).to_contain_text("copied to the clipboard")
        assert page.evaluate("() => navigator.clipboard.readText()") == text
    page.screenshot(path=screenshots / "shown-once-usage.png")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "shown-once-375px.png")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "shown-once-dark.png")
    assert serious_violations(page) == []
    page.emulate_media(color_scheme="light")
    # The key never goes into storage: sessionStorage holds only the signed-in key.
    assert session_storage(page) == {STORAGE_KEY: keygate.root_key}
    assert page.evaluate("() => localStorage.length") == 0
    assert new_key not in page.url


def test_closing_an_uncopied_key_asks_first_from_escape_the_close_button_and_done(page, console_url, keygate, api, screenshots):
    old = api.create_key("nightly", permissions=["runs:read"])
    sign_in(page, console_url, keygate.root_key)
    choose_action(page, "nightly", "Rotate…")
    rotate = page.get_by_role("dialog", name="Rotate key")
    rotate.get_by_label("Keep the old key working for").select_option(label="No grace period: revoke it now")
    rotate.get_by_role("button", name="Rotate key").click()
    shown = page.get_by_role("dialog", name="Copy the new key")
    expect(shown).to_be_visible()
    new_key = page.locator("#secret-value").inner_text().strip()
    confirm = page.get_by_role("dialog", name="Close without copying the key?")

    page.keyboard.press("Escape")
    expect(confirm).to_be_visible()
    # After a rotation without grace the old key is gone too, and the page says so.
    expect(confirm).to_contain_text("“nightly” was revoked by this rotation")
    expect(confirm.get_by_role("button", name="Keep it open")).to_be_focused()
    page.screenshot(path=screenshots / "shown-once-confirm.png")
    assert serious_violations(page) == []
    page.keyboard.press("Enter")  # keep it open
    expect(confirm).to_be_hidden()
    expect(shown).to_be_visible()
    assert page.locator("#secret-value").inner_text().strip() == new_key
    expect(shown.get_by_role("button", name="Copy key")).to_be_focused()  # focus returns where it was

    page.keyboard.press("Escape")
    expect(confirm).to_be_visible()
    page.keyboard.press("Escape")  # Escape in the question keeps the key too
    expect(confirm).to_be_hidden()
    expect(shown).to_be_visible()

    shown.get_by_role("button", name="Close").click()
    expect(confirm).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 667})
    page.screenshot(path=screenshots / "shown-once-confirm-375px.png")
    confirm.get_by_role("button", name="Keep it open").click()
    shown.get_by_role("button", name="Done").click()
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Close without copying").click()
    expect(shown).to_be_hidden()
    assert_page_forgot(page, new_key)
    assert api.get_key(old["id"])["status"] == "revoked"


def test_a_copied_key_closes_without_asking(page, console_url, keygate, api):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    page.get_by_role("dialog", name="Create key").get_by_label("Name").fill("copied")
    page.get_by_role("dialog", name="Create key").get_by_role("button", name="Create key").click()
    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown).to_be_visible()
    new_key = page.locator("#secret-value").inner_text().strip()
    assert new_key.startswith("kg_")
    shown.get_by_role("button", name="Copy key").click()
    expect(shown.locator("#secret-copied")).to_have_text("Key copied to the clipboard.")
    page.keyboard.press("Escape")
    expect(shown).to_be_hidden()
    expect(page.get_by_role("dialog", name="Close without copying the key?")).to_be_hidden()
    assert_page_forgot(page, new_key)


# Finding keys


def test_rotated_keys_link_to_each_other_by_name(page, console_url, keygate, api):
    old = api.create_key("ci-deployer", permissions=["runs:read"])
    for n in range(30):
        api.create_key(f"filler-{n:02d}")
    status, new = api.call("POST", f"/v1/api-keys/{old['id']}/rotate", {"grace_period_seconds": 3600})
    assert status == 201
    sign_in(page, console_url, keygate.root_key)

    successor, predecessor = key_row(page, new["id"]), key_row(page, old["id"])
    expect(successor).to_contain_text(f"Rotated from “ci-deployer” ({old['hint']})")
    expect(predecessor).to_contain_text(f"Rotated to “ci-deployer” ({new['hint']})")
    predecessor.get_by_role("link", name=re.compile("ci-deployer” \\(")).click()
    expect(successor).to_be_in_viewport(ratio=1)
    expect(successor.locator(".key-name")).to_be_focused()
    expect(successor).to_have_class(re.compile("is-highlighted"))
    assert "#key/" not in page.url  # the table stays; the row came into view

    # The audit log tells the rotation as what happened, by name.
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-rows tr.audit-row")
    expect(rows.first).to_contain_text("Created by rotation of ci-deployer")
    expect(rows.nth(1)).to_contain_text("Rotated to ci-deployer; works until its grace period ends")
    expect(page.locator("#audit-rows")).not_to_contain_text("active → active")
    expect(rows.nth(1).get_by_role("link", name="ci-deployer").first).to_have_attribute("href", f"#key/{old['id']}")


# A key's page


def test_a_keys_page_shows_its_record_history_and_rotation(page, console_url, keygate, api, screenshots):
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = api.create_key(
        "billing-sync", key_type="user", owner="grace.hopper@example.com", description="Syncs invoices nightly",
        permissions=["runs:read", "traces:read"], expires_at=soon,
    )
    api.call("POST", f"/v1/api-keys/{old['id']}/suspend")
    api.call("POST", f"/v1/api-keys/{old['id']}/reactivate")
    status, new = api.call("POST", f"/v1/api-keys/{old['id']}/rotate", {"grace_period_seconds": 3600, "reason": "quarterly"})
    assert status == 201
    sign_in(page, console_url, keygate.root_key)

    # From the row: the name is a link.
    key_row(page, old["id"]).locator(".key-name").click()
    expect(page).to_have_url(re.compile(f"#key/{old['id']}$"))
    heading = page.get_by_role("heading", name="billing-sync", level=1)
    expect(heading).to_be_focused()
    facts = page.locator("#key-facts")
    record = api.get_key(old["id"])
    for text in (record["id"], record["hint"], record["org_id"], "User", "grace.hopper@example.com",
                 "Syncs invoices nightly", "runs:read", "traces:read", "Active", "never"):
        expect(facts).to_contain_text(text)
    created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
    expect(facts.locator("dt", has_text=re.compile("^Created$")).locator("xpath=following-sibling::dd[1]")).to_contain_text("(just now)")
    expect(facts).to_contain_text(str(created.astimezone().year))  # absolute, with the relative beside
    expect(facts).to_contain_text("(in 1 hour)")  # the grace period's end is its expiry now
    expect(page.locator("#key-history-list > li .badge")).to_have_text(["Rotated", "Reactivated", "Suspended", "Created"])
    expect(page.locator("#key-history-list")).to_contain_text("Rotated to billing-sync")
    expect(page.locator("#key-history-list")).to_contain_text("Reason: quarterly")
    assert serious_violations(page) == []
    page.screenshot(path=screenshots / "key-details.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "key-details-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")

    # It survives a reload; its successor is a link.
    page.reload()
    expect(page.get_by_role("heading", name="billing-sync", level=1)).to_be_visible()
    page.locator("#key-facts").get_by_role("link", name=re.compile("billing-sync")).click()
    expect(page).to_have_url(re.compile(f"#key/{new['id']}$"))
    expect(page.locator("#key-facts")).to_contain_text(new["hint"])
    expect(page.locator("#key-facts dt", has_text="Rotated from")).to_be_visible()
    expect(page.locator("#key-history-list")).to_contain_text("Created by rotation of billing-sync")

    # Its actions work from the page, which then shows the change.
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Suspend").click()
    expect(page.locator("#key-facts .badge-suspended")).to_have_text("Suspended")
    expect(page.get_by_role("status").filter(has_text="Suspended “billing-sync”")).to_be_visible()
    expect(page.locator("#key-history-list > li .badge").first).to_have_text("Suspended")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "key-details-375px.png", full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

    # From the menu's Details, and back to the table.
    page.get_by_role("link", name="← API keys").click()
    key_row(page, old["id"]).get_by_role("button", name="Actions for billing-sync").click()
    key_row(page, old["id"]).get_by_role("menuitem", name="Details").click()
    expect(page).to_have_url(re.compile(f"#key/{old['id']}$"))
    expect(page.get_by_role("heading", name="billing-sync", level=1)).to_be_visible()


def test_a_deleted_keys_page_still_shows_its_history(page, console_url, keygate, api):
    gone = api.create_key("short-lived")
    api.call("DELETE", f"/v1/api-keys/{gone['id']}")
    sign_in(page, console_url, keygate.root_key)
    page.goto(f"{console_url}/#key/{gone['id']}")
    expect(page.locator("#key-error")).to_contain_text("no longer exists")
    expect(page.locator("#key-history-list > li .badge")).to_have_text(["Deleted", "Created"])


# The audit log


def test_audit_log_rows_expand_filter_by_key_and_export(page, console_url, keygate, api, screenshots):
    hostile = api.create_key('=HYPERLINK("http://x","y")')
    api.call("POST", f"/v1/api-keys/{hostile['id']}/revoke", {"reason": '+1 "quoted", with a comma'})
    other = api.create_key("other")
    api.call("POST", f"/v1/api-keys/{other['id']}/suspend")
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-rows tr.audit-row")
    expect(rows).to_have_count(5)  # bootstrap, two creates, a revoke, a suspend

    # Times absolute with the relative beside; the request's details behind a disclosure.
    first = rows.first
    expect(first.locator(".when")).to_contain_text("(just now)")
    toggle = first.get_by_role("button", name=re.compile("Request details"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    details = page.locator("#audit-rows tr.audit-details-row").first
    expect(details).to_be_hidden()
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(details).to_be_visible()
    expect(details).to_contain_text("127.0.0.1")
    expect(details).to_contain_text("Python-urllib")  # the test's client made that change
    events = api.call("GET", "/v1/audit-events?limit=100")[1]["data"]
    expect(details).to_contain_text(events[0]["request_id"])
    assert serious_violations(page) == []
    page.screenshot(path=screenshots / "audit-log.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "audit-log-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "audit-log-375px.png", full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 800})
    toggle.focus()
    page.keyboard.press("Space")
    expect(details).to_be_hidden()

    # Filter by key: in the fragment, kept on reload.
    page.get_by_role("combobox", name="Key", exact=True).select_option(other["id"])
    expect(page).to_have_url(re.compile(f"#audit\\?key={other['id']}$"))
    expect(rows).to_have_count(2)
    expect(page.locator("#audit-rows")).not_to_contain_text("HYPERLINK")
    page.get_by_label("Action", exact=True).select_option("suspend")
    expect(page).to_have_url(re.compile(f"#audit/suspend\\?key={other['id']}$"))
    expect(rows).to_have_count(1)
    page.reload()
    expect(page.get_by_role("combobox", name="Key", exact=True)).to_have_value(other["id"])
    expect(page.get_by_label("Action", exact=True)).to_have_value("suspend")
    expect(rows).to_have_count(1)

    # Export what is filtered, walking every page.
    page.get_by_role("combobox", name="Key", exact=True).select_option("")
    page.get_by_label("Action", exact=True).select_option("")
    expect(rows).to_have_count(5)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    raw = open(path, "rb").read()
    assert b"\r\n" in raw
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, body = table[0], table[1:]
    assert len(body) == 5
    assert header[:4] == ["time", "action", "key_id", "key_name"]
    by_action = {row[1]: dict(zip(header, row)) for row in body}
    assert by_action["revoke"]["key_name"] == "'=HYPERLINK(\"http://x\",\"y\")"  # defused formula
    assert by_action["revoke"]["reason"] == "'+1 \"quoted\", with a comma"
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert all(line.startswith('"') and line.endswith('"') for line in lines if line)  # every field quoted
    assert '""quoted"", with a comma' in raw.decode()  # quotes doubled
    expect(page.get_by_role("status").filter(has_text="Exported 5 events as CSV")).to_be_visible()

    page.get_by_label("Action", exact=True).select_option("revoke")
    expect(rows).to_have_count(1)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(open(download.value.path()).read())
    assert [e["id"] for e in exported] == [e["id"] for e in events if e["action"] == "revoke"]
    assert exported[0]["key_name"] == hostile["name"]  # JSON keeps the data as it is


def test_audit_export_walks_every_page(page, console_url, keygate, api):
    for n in range(120):
        api.create_key(f"bulk-{n:03d}")
    sign_in(page, console_url, keygate.root_key)
    page.goto(f"{console_url}/#audit/create")
    expect(page.locator("#audit-rows tr.audit-row")).to_have_count(50)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(open(download.value.path()).read())
    assert len(exported) == 120 and {e["action"] for e in exported} == {"create"}


# Where next


def test_the_api_reference_is_built_from_the_openapi_document(page, page_log, console_url, keygate, api, screenshots):
    document = json.loads(urllib.request.urlopen(console_url + "/openapi.json").read())
    page.goto(console_url)
    page.get_by_role("link", name="API reference").first.click()
    expect(page.get_by_role("heading", name="API reference", level=1)).to_be_visible()
    reference = page.locator("#reference-body")
    for item in document["paths"].values():
        for method, operation in item.items():
            article = page.locator(f"#ref-{operation['operationId']}")
            expect(article).to_contain_text(method.upper())
            expect(article).to_contain_text(operation["summary"])
    create = page.locator("#ref-create-key")
    expect(create).to_contain_text("Scope: Needs api-keys:write.")
    expect(create.get_by_role("link", name="CreateKeyRequest")).to_be_visible()
    expect(page.locator("#ref-list-scopes")).to_contain_text("Needs any valid key.")
    expect(page.locator("#ref-openapi")).to_contain_text("Public: no key needed.")
    listing = page.locator("#ref-list-keys")
    for parameter in ("status", "limit", "cursor"):
        expect(listing.locator(".fields-table")).to_contain_text(parameter)
    expect(listing).to_contain_text("From 1 to 100.")
    create.get_by_role("link", name="CreateKeyRequest").click()
    expect(page).to_have_url(re.compile("#reference/schema-CreateKeyRequest$"))
    schema = page.locator("#ref-schema-CreateKeyRequest")
    expect(schema).to_be_in_viewport()
    expect(schema).to_contain_text("service key")
    expect(schema).to_contain_text("LimitsRequest or null")
    # A name's rule is written once, in its own schema, linked from every field that has it.
    schema.get_by_role("link", name="KeyName").first.click()
    expect(page.locator("#ref-schema-KeyName")).to_contain_text("1–100 characters")
    expect(page.locator("#ref-schema-KeyRecord")).to_contain_text("rotated_to")
    assert serious_violations(page) == []
    page.goto(console_url + "/#reference")
    expect(page.locator("#ref-create-key")).to_be_visible()
    page.screenshot(path=screenshots / "reference.png")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "reference-dark.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "reference-375px.png")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

    # Signed out, the way back is sign-in; signed in, it says what your key holds.
    page.get_by_role("link", name="← Sign in").click()
    expect(page.get_by_role("heading", name="Sign in to keygate")).to_be_visible()
    reader = api.create_key("reader", permissions={"preset": "read_only"})
    sign_in(page, console_url, reader["key"])
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="API reference").click()
    expect(page.locator("#ref-create-key")).to_contain_text("your key lacks it")
    expect(page.locator("#ref-list-keys")).to_contain_text("your key holds it")
    assert page_log.errors == []


def test_sign_in_says_where_a_key_comes_from_and_links_onwards(page, console_url, screenshots):
    page.goto(console_url)
    help_text = page.locator(".signin-help")
    expect(help_text).to_contain_text("keygate serve prints the first full-access key")
    expect(help_text).to_contain_text("keygate bootstrap --org NAME")
    expect(help_text).to_contain_text("api-keys:write")
    where_next = page.get_by_role("navigation", name="Where next")
    expect(where_next.get_by_role("link", name="API reference")).to_have_attribute("href", "#reference")
    expect(where_next).to_contain_text("The keygate command")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "sign-in-375px.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "sign-in-dark.png")


# Polish at 375 px


def test_compact_cards_whole_emails_and_one_line_times_at_375px(page, console_url, keygate, api, screenshots):
    api.create_key("ada", key_type="user", owner="ada.lovelace@analytical-engines.example", description="Reads the runs",
                   permissions=["runs:read", "traces:read"])
    for n in range(10):
        api.create_key(f"service-{n}", description="Deploys from CI")
    page.set_viewport_size({"width": 375, "height": 812})
    sign_in(page, console_url, keygate.root_key)
    rows = page.locator("#keys-rows tr")
    expect(rows).to_have_count(12)
    heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 150, heights  # even a user key with a long email and a description
    assert sorted(heights)[len(heights) // 2] < 110, heights  # a typical card, a third of the 290 px it took

    # The email stays whole: it is laid out as one line of text.
    owner = page.locator(".owner").first
    lines = owner.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length }")
    assert lines == 1
    # A relative time is one line too.
    for time in page.locator("#keys-rows time").all()[:6]:
        assert time.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e); return r.getClientRects().length }") == 1
    page.screenshot(path=screenshots / "keys-375px-compact.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=screenshots / "keys-375px-dark.png", full_page=True)
    assert serious_violations(page) == []


# Editing a key, finding keys, actors by name, what the signed-in key may do


def open_key_page(page: Page, key_id: str, name: str) -> None:
    page.goto(page.url.split("#")[0] + f"#key/{key_id}")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.locator("#key-body")).to_be_visible()


def test_edit_a_keys_name_and_description_from_its_page(page, console_url, keygate, api, screenshots):
    key = api.create_key("ci", permissions=["runs:read"], description="Deploys")
    sign_in(page, console_url, keygate.root_key)
    open_key_page(page, key["id"], "ci")

    page.get_by_role("button", name="Edit ci").click()
    dialog = page.get_by_role("dialog", name="Edit key")
    expect(dialog.get_by_label("Name")).to_have_value("ci")
    expect(dialog.get_by_label("Description")).to_have_value("Deploys")
    expect(dialog.get_by_label("Name")).to_be_focused()
    # The page's own check first: a key always has a name.
    dialog.get_by_label("Name").fill("  ")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#edit-name-error")).to_have_text("Name is required.")
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    assert api.get_key(key["id"])["name"] == "ci"
    # The API's check next, beside its field.
    dialog.get_by_label("Name").fill("x" * 101)
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#edit-name-error")).to_contain_text("1-100 characters")
    assert api.get_key(key["id"])["name"] == "ci"

    dialog.get_by_label("Name").fill("ci-deployer")
    dialog.get_by_label("Description").fill("Deploys eu-west-1 from CI")
    assert serious_violations(page) == []
    page.screenshot(path=screenshots / "edit-dialog.png")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="ci-deployer", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Saved “ci-deployer”")).to_be_visible()
    expect(page.get_by_role("button", name="Edit ci-deployer")).to_be_focused()
    facts = page.locator("#key-facts")
    expect(facts).to_contain_text("Deploys eu-west-1 from CI")
    record = api.get_key(key["id"])
    assert (record["name"], record["description"]) == ("ci-deployer", "Deploys eu-west-1 from CI")
    assert record["scopes"] == ["runs:read"] and api.works(key["key"])

    # Its history says what changed and who changed it, by name.
    history = page.locator("#key-history-list")
    newest = history.locator("li").first
    expect(newest).to_contain_text("Renamed from “ci” to “ci-deployer”")
    expect(newest).to_contain_text("Description changed to “Deploys eu-west-1 from CI”")
    expect(newest.locator(".actor")).to_contain_text("root")
    page.screenshot(path=screenshots / "key-edited.png", full_page=True)

    # Emptying the description removes it; saving nothing changed sends nothing.
    page.get_by_role("button", name="Edit ci-deployer").click()
    dialog.get_by_label("Description").fill("")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(history.locator("li").first).to_contain_text("Description removed")
    assert api.get_key(key["id"])["description"] is None
    events = len(api.call("GET", f"/v1/audit-events?key_id={key['id']}")[1]["data"])
    page.get_by_role("button", name="Edit ci-deployer").click()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert len(api.call("GET", f"/v1/audit-events?key_id={key['id']}")[1]["data"]) == events

    # From the keys table too.
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="API keys").click()
    choose_action(page, "ci-deployer", "Edit…")
    dialog.get_by_label("Name").fill("ci-eu")
    dialog.get_by_role("button", name="Save").click()
    expect(key_row(page, key["id"]).locator(".key-name")).to_have_text("ci-eu")
    page.set_viewport_size({"width": 375, "height": 812})
    page.get_by_role("button", name="Actions for ci-eu", exact=True).click()
    page.get_by_role("menuitem", name="Edit…").click()
    page.screenshot(path=screenshots / "edit-dialog-375px.png")
    page.keyboard.press("Escape")


def test_what_the_key_may_do_to_each_key_comes_from_the_api(page, console_url, api, screenshots):
    # A writer holds api-keys:write but not full access: it may not change a
    # full-access key (the API says why, per key), never reactivate itself,
    # and may change a key its scopes cover.
    writer = api.create_key("writer", permissions=["api-keys:read", "api-keys:write", "runs:read"])
    admin = api.create_key("admin")
    narrow = api.create_key("narrow", permissions=["runs:read"])
    api.call("POST", f"/v1/api-keys/{narrow['id']}/suspend")
    sign_in(page, console_url, writer["key"])

    page.get_by_role("button", name="Actions for admin", exact=True).click()
    menu = page.get_by_role("menu", name="Actions for admin")
    for action in ("Edit…", "Suspend", "Rotate…", "Revoke…"):
        item = menu.get_by_role("menuitem", name=action)
        expect(item).to_have_attribute("aria-disabled", "true")
        expect(item).to_have_accessible_description(re.compile("only a full-access key can change it"))
    # The reason is shown under the first item of each run it disables (Edit…
    # to Limits…, then Revoke… and Delete… after History), not under each.
    for first in ("Edit…", "Revoke…"):
        expect(menu.get_by_role("menuitem", name=first)).to_contain_text("This key has full access and yours does not.")
    expect(menu.locator(".menu-item-reason").filter(has_text="This key has full access")).to_have_count(2)
    page.screenshot(path=screenshots / "authority-menu.png")
    menu.get_by_role("menuitem", name="Suspend").click(force=True)  # says why, does nothing
    page.keyboard.press("Escape")
    assert api.get_key(admin["id"])["status"] == "active"

    page.get_by_role("button", name="Actions for narrow", exact=True).click()
    expect(page.get_by_role("menuitem", name="Reactivate")).not_to_have_attribute("aria-disabled", "true")
    page.keyboard.press("Escape")

    open_key_page(page, admin["id"], "admin")
    edit = page.get_by_role("button", name="Edit admin")
    expect(edit).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#key-edit-reason")).to_contain_text("only a full-access key can change it")
    edit.click(force=True)
    expect(page.get_by_role("dialog", name="Edit key")).to_be_hidden()
    page.screenshot(path=screenshots / "edit-disabled.png")
    assert serious_violations(page) == []


def test_the_last_full_access_key_asks_before_it_is_taken_away(page, console_url, keygate, api, screenshots):
    root_id = keygate.root_key.split("_")[1][:22]
    sign_in(page, console_url, keygate.root_key)
    assert api.get_key(root_id)["last_active_full_access"] is True

    choose_action(page, "root", "Suspend")
    confirm = page.get_by_role("dialog", name="Suspend your own key?")
    expect(confirm).to_contain_text("last active full-access key")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.screenshot(path=screenshots / "last-full-access-confirm.png")
    page.keyboard.press("Escape")
    choose_action(page, "root", "Revoke…")
    revoke = page.get_by_role("dialog", name="Revoke key")
    expect(revoke.locator("#revoke-last")).to_be_visible()
    expect(revoke).to_contain_text("keygate bootstrap")
    page.keyboard.press("Escape")
    assert api.get_key(root_id)["status"] == "active"

    # With another full-access key, it is not the last: no such warning.
    api.create_key("backup-admin")
    page.reload()
    expect(key_row(page, root_id)).to_be_visible()
    choose_action(page, "root", "Revoke…")
    expect(revoke.locator("#revoke-last")).to_be_hidden()
    page.keyboard.press("Escape")
    choose_action(page, "root", "Suspend")
    confirm = page.get_by_role("dialog", name="Suspend your own key?")
    expect(confirm).not_to_contain_text("last active full-access key")
    page.keyboard.press("Escape")


def test_tabs_count_keys_and_keys_are_found_by_name_type_and_owner(page, console_url, keygate, api, screenshots):
    for name in ("ci-deployer", "CI-runner", "docs-bot"):
        api.create_key(name, permissions=["runs:read"])
    ada = api.create_key("laptop", key_type="user", owner="ada@example.com", permissions=["runs:read"])
    bob = api.create_key("desktop", key_type="user", owner="bob@example.com", permissions=["runs:read"])
    paused = api.create_key("ci-paused", permissions=["runs:read"])
    api.call("POST", f"/v1/api-keys/{paused['id']}/suspend")
    sign_in(page, console_url, keygate.root_key)
    tabs = page.get_by_role("navigation", name="Filter keys by status")
    expect(tabs.get_by_role("link", name="All")).to_have_text("All 7")
    expect(tabs.get_by_role("link", name="Active")).to_have_text("Active 6")
    expect(tabs.get_by_role("link", name="Suspended")).to_have_text("Suspended 1")
    expect(tabs.get_by_role("link", name="Revoked")).to_have_text("Revoked 0")

    # A name search: the start of a name, whatever its case, A→Z.
    search = page.get_by_label("Name", exact=True)
    search.fill("ci")
    expect(page).to_have_url(re.compile(r"#keys\?name=ci$"))
    expect(page.locator("#keys-rows .key-name")).to_have_text(["ci-deployer", "ci-paused", "CI-runner"])
    expect(page.get_by_label("Type", exact=True)).to_be_disabled()
    expect(page.locator("#keys-find-hint")).to_have_text("Clear the name to filter by type or owner.")
    page.screenshot(path=screenshots / "keys-search.png", full_page=True)
    # The tabs keep the search; the counts stay the organization's.
    tabs.get_by_role("link", name="Active").click()
    expect(page).to_have_url(re.compile(r"#keys/active\?name=ci$"))
    expect(page.locator("#keys-rows .key-name")).to_have_text(["ci-deployer", "CI-runner"])
    expect(tabs.get_by_role("link", name="All")).to_have_text("All 7")
    page.reload()
    expect(search).to_have_value("ci")
    expect(page.locator("#keys-rows .key-name")).to_have_text(["ci-deployer", "CI-runner"])
    search.fill("zz")
    expect(page.locator("#keys-empty")).to_have_text("No active keys match a name starting with “zz”.")
    search.fill("")
    expect(page.locator("#keys-rows tr")).to_have_count(6)

    # By type and owner (the whole owner, whatever its case).
    tabs.get_by_role("link", name="All").click()
    page.get_by_label("Type", exact=True).select_option("user")
    expect(page).to_have_url(re.compile(r"#keys\?type=user$"))
    expect(page.locator("#keys-rows .key-name")).to_have_text(["laptop", "desktop"])
    expect(search).to_be_disabled()
    owner = page.get_by_label("Owner", exact=True)
    owner.fill("BOB@example.com")
    owner.press("Enter")
    expect(page.locator("#keys-rows tr")).to_have_count(1)
    expect(key_row(page, bob["id"])).to_be_visible()
    assert ada["id"] not in page.locator("#keys-rows").inner_html()
    page.screenshot(path=screenshots / "keys-filter-owner.png", full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=screenshots / "keys-filter-375px.png", full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 800})
    assert serious_violations(page) == []

    # A change moves the counts.
    owner.fill("")
    page.get_by_label("Type", exact=True).select_option("")
    expect(page.locator("#keys-rows tr")).to_have_count(7)
    choose_action(page, "docs-bot", "Suspend")
    expect(tabs.get_by_role("link", name="Suspended")).to_have_text("Suspended 2")
    expect(tabs.get_by_role("link", name="Active")).to_have_text("Active 5")


def test_the_audit_log_names_who_acted_and_filters_by_actor_and_day(page, console_url, keygate, api, screenshots):
    writer = api.create_key("deployer", permissions=["api-keys:read", "api-keys:write", "runs:read"])
    status, made = api.call(
        "POST", "/v1/api-keys", {"name": "made-by-deployer", "key_type": "service", "permissions": ["runs:read"]},
        key=writer["key"],
    )
    assert status == 201
    api.call("PATCH", f"/v1/api-keys/{made['id']}", {"name": "renamed"}, key=writer["key"])
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-rows tr.audit-row")
    expect(rows).to_have_count(4)  # bootstrap, deployer's create, its create, its rename
    newest = rows.first
    expect(newest).to_contain_text("Renamed from “made-by-deployer” to “renamed”")
    by = newest.locator(".actor")
    expect(by).to_contain_text("deployer")
    expect(by).to_contain_text(writer["hint"])
    expect(by.get_by_role("link", name="deployer")).to_have_attribute("href", f"#key/{writer['id']}")

    page.get_by_label("By", exact=True).select_option(writer["id"])
    expect(page).to_have_url(re.compile(f"#audit\\?actor={writer['id']}$"))
    expect(rows).to_have_count(2)
    expect(page.get_by_role("combobox", name="Key", exact=True)).to_be_disabled()
    expect(page.locator("#audit-rows")).not_to_contain_text("keygate bootstrap")
    page.get_by_label("Action", exact=True).select_option("update")
    expect(rows).to_have_count(1)
    page.screenshot(path=screenshots / "audit-by-actor.png", full_page=True)
    page.reload()
    expect(page.get_by_label("By", exact=True)).to_have_value(writer["id"])
    expect(rows).to_have_count(1)

    # Days: today has every event, yesterday none.
    page.get_by_label("Action", exact=True).select_option("")
    page.get_by_label("By", exact=True).select_option("")
    today = datetime.now().date()
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    expect(page).to_have_url(re.compile(f"from={today.isoformat()}&to={today.isoformat()}"))
    expect(rows).to_have_count(4)
    yesterday = (today - timedelta(days=1)).isoformat()
    page.get_by_label("From", exact=True).fill(yesterday)
    page.get_by_label("To", exact=True).fill(yesterday)
    expect(page.locator("#audit-empty")).to_contain_text("No events match these filters")
    page.screenshot(path=screenshots / "audit-by-day.png", full_page=True)
    assert serious_violations(page) == []
    page.get_by_label("From", exact=True).fill("")
    page.get_by_label("To", exact=True).fill("")
    expect(rows).to_have_count(4)

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    table = list(csv.reader(io.StringIO(open(download.value.path(), "rb").read().decode("utf-8-sig"), newline="")))
    header = table[0]
    exported = [dict(zip(header, row)) for row in table[1:]]
    update = next(e for e in exported if e["action"] == "update")
    assert update["actor_name"] == "deployer"
    assert json.loads(update["changes"]) == [{"field": "name", "before": "made-by-deployer", "after": "renamed"}]


# Usage limits


def test_limits_are_set_at_create_and_shown_with_their_usage(page, console_url, keygate, api, screenshots):
    sign_in(page, console_url, keygate.root_key)
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog", name="Create key")
    dialog.get_by_label("Name").fill("metered")
    # The page's own check, beside the limits; it goes when the field changes.
    dialog.get_by_label("Rate limit").fill("ten")
    dialog.get_by_role("button", name="Create key").click()
    error = page.locator("#create-rate-error")
    expect(error).to_have_text("The rate limit must be a whole number of requests, 1 or more (or empty: none).")
    expect(dialog.get_by_label("Rate limit")).to_have_attribute("aria-invalid", "true")
    assert [k["name"] for k in api.call("GET", "/v1/api-keys")[1]["data"]] == ["root"]
    # A bad quota is said beside the quota, and marks it, not the rate.
    dialog.get_by_label("Quota").fill("1.5")
    dialog.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-quota-error")).to_have_text("The quota must be a whole number of requests, 1 or more (or empty: none).")
    expect(dialog.get_by_label("Quota")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Rate limit").fill("2")
    expect(error).to_have_text("")
    dialog.get_by_label("requests per").first.select_option(label="hour")
    dialog.get_by_label("Quota").fill("1000")
    dialog.get_by_label("requests per").last.select_option(label="day (UTC)")
    assert serious_violations(page) == []
    page.screenshot(path=screenshots / "create-with-limits.png")
    dialog.get_by_role("button", name="Create key").click()

    # The shown-once dialog says what the key may make.
    shown = page.get_by_role("dialog", name="Copy your new key")
    expect(shown.locator("#secret-summary")).to_contain_text("2 requests per hour; 1,000 requests per day")
    new_key = page.locator("#secret-value").inner_text().strip()
    record = api.get_key(new_key.split("_")[1][:22])
    assert record["limits"] == {
        "rate": {"requests": 2, "window_seconds": 3600},
        "quota": {"requests": 1000, "period": "day"},
    }
    close_shown_once(page)

    # Its row shows the limits and what is used of them.
    row = key_row(page, record["id"])
    expect(row.locator(".limits")).to_contain_text("Limit 2/hour · 1,000/day")
    expect(row.locator(".limits")).to_contain_text("used 0/2 · 0/1,000")
    expect(key_row(page, keygate.root_key.split("_")[1][:22]).locator(".limits")).to_have_count(0)

    # Two requests use the hour's rate: the key's page says so, and the third is refused.
    assert api.works(new_key) and api.works(new_key)
    assert not api.works(new_key)
    open_key_page(page, record["id"], "metered")
    usage = page.locator("#key-usage")
    expect(usage).to_contain_text("Rate: 2 requests per hour — 2 of 2 used, 0 left")
    expect(usage).to_contain_text("Quota: 1,000 requests per day — 2 of 1,000 used, 998 left")
    page.screenshot(path=screenshots / "key-usage.png", full_page=True)


def test_limits_change_and_usage_resets_from_the_keys_page(page, console_url, keygate, api, screenshots):
    key = api.create_key("metered", limits={"rate": {"requests": 1, "window_seconds": 86400}})
    assert api.works(key["key"]) and not api.works(key["key"])
    sign_in(page, console_url, keygate.root_key)
    open_key_page(page, key["id"], "metered")
    expect(page.locator("#key-usage")).to_contain_text("1 of 1 used, 0 left")

    page.locator("#key-actions").get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Limits…").click()
    dialog = page.get_by_role("dialog", name="Usage limits")
    expect(dialog.get_by_label("Rate limit")).to_have_value("1")
    expect(dialog.get_by_label("Rate limit")).to_be_focused()
    expect(dialog.get_by_label("requests per").first).to_have_value("86400")
    dialog.get_by_label("Rate limit").fill("0")
    dialog.get_by_role("button", name="Save limits").click()
    expect(page.locator("#limits-rate-error")).to_contain_text("whole number of requests, 1 or more")
    dialog.get_by_label("Rate limit").fill("3")
    dialog.get_by_label("Quota").fill("500")
    page.screenshot(path=screenshots / "limits-dialog.png")
    dialog.get_by_role("button", name="Save limits").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Saved the limits of “metered”")).to_be_visible()
    usage = page.locator("#key-usage")
    expect(usage).to_contain_text("Rate: 3 requests per day — 1 of 3 used, 2 left")
    expect(usage).to_contain_text("Quota: 500 requests per month")
    assert api.get_key(key["id"])["limits"]["quota"] == {"requests": 500, "period": "month"}
    newest = page.locator("#key-history-list li").first
    expect(newest).to_contain_text("Limits: 1 request per day → 3 requests per day, 500 requests per month")

    # Resetting asks first; cancelled, nothing happens.
    events = len(api.call("GET", f"/v1/audit-events?key_id={key['id']}")[1]["data"])
    page.locator("#key-actions").get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Reset usage…").click()
    confirm = page.get_by_role("dialog", name="Reset the usage of “metered”?")
    confirm.get_by_role("button", name="Cancel").click()
    assert len(api.call("GET", f"/v1/audit-events?key_id={key['id']}")[1]["data"]) == events
    page.locator("#key-actions").get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Reset usage…").click()
    confirm.get_by_role("button", name="Reset usage").click()
    expect(page.get_by_role("status").filter(has_text="Reset the usage of “metered”")).to_be_visible()
    expect(usage).to_contain_text("0 of 3 used, 3 left")
    expect(page.locator("#key-history-list li").first).to_contain_text("Usage counts set back to zero")
    assert api.call("GET", f"/v1/api-keys/{key['id']}/usage")[1]["rate"]["used"] == 0

    # Emptying both fields removes the limits: the key is unlimited again.
    page.locator("#key-actions").get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Limits…").click()
    dialog.get_by_label("Rate limit").fill("")
    dialog.get_by_label("Quota").fill("")
    dialog.get_by_role("button", name="Save limits").click()
    expect(page.get_by_role("status").filter(has_text="Removed the limits of “metered”")).to_be_visible()
    expect(usage).to_contain_text("None: the key may make any number of requests.")
    assert api.get_key(key["id"])["limits"] == {"rate": None, "quota": None}


def test_a_key_cannot_change_its_own_limits_and_the_console_says_why(page, console_url, api):
    # A key-admin with limits signs in: its own limits are not its to change.
    admin = api.create_key(
        "limited-admin",
        permissions=["api-keys:read", "api-keys:write"],
        limits={"quota": {"requests": 1000, "period": "day"}},
    )
    usage_reads = []
    page.on("request", lambda request: usage_reads.append(request.url) if request.url.endswith("/usage") else None)
    sign_in(page, console_url, admin["key"])
    # Its rows show limits but read no usage: each read would count against its own limits.
    expect(page.locator("#keys-rows .limits").first).to_contain_text("Limit 1,000/day")
    page.wait_for_timeout(300)
    assert usage_reads == []
    page.get_by_role("button", name="Actions for limited-admin", exact=True).click()
    menu = page.get_by_role("menu", name="Actions for limited-admin")
    limits_item = menu.get_by_role("menuitem", name=re.compile("^Limits…"))
    expect(limits_item).to_have_attribute("aria-disabled", "true")
    expect(menu).to_contain_text("A key cannot change its own limits")
    page.keyboard.press("Escape")
    # What it creates shares its budget: the form says so before it is sent.
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#create-limits-note")).to_be_visible()
