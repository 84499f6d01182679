"""The stand-ins' answers validated against the providers' published API descriptions
(`../shared/specs`): WhatsApp, Twilio and SendGrid with openapi-core, Google Calendar
against its discovery document's schema. Seha, Tatman and Slack publish none (PROVIDERS.md)."""
import json
from functools import lru_cache

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse


def normalise(node, in_paths=False):
    """Keys as strings (YAML reads unquoted `200:` as a number); path-level servers removed."""
    if isinstance(node, dict):
        if in_paths:
            node.pop("servers", None)
        return {str(key): normalise(value, in_paths or key == "paths") for key, value in node.items()}
    if isinstance(node, list):
        return [normalise(value, in_paths) for value in node]
    return node


@lru_cache(maxsize=None)
def load_spec(path, base_url):
    with open(path) as handle:
        spec = yaml.safe_load(handle)
    spec = normalise(spec)
    spec["servers"] = [{"url": base_url}]
    # The published documents don't all pass the strict spec validator; we validate answers, not them.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def check(openapi, response):
    openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))


def test_whatsapp_phone_number_and_errors(sandbox, specs_dir):
    endpoint = sandbox["whatsapp"]
    settings = endpoint["settings"]
    openapi = load_spec(str(specs_dir / "whatsapp" / "business-messaging-api_v23.0.yaml"), endpoint["url"])
    url = f"{settings['api_url']}/{settings['phone_number_id']}"
    good = requests.get(url, headers={"Authorization": f"Bearer {settings['access_token']}"}, timeout=10)
    assert good.status_code == 200
    check(openapi, good)
    unknown = requests.get(f"{settings['api_url']}/1999", timeout=10,
                           headers={"Authorization": f"Bearer {settings['access_token']}"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == 100  # this operation documents no error answers
    assert {"message", "type", "code", "fbtrace_id"} <= set(unknown.json()["error"])
    bad = requests.post(f"{url}/messages", headers={"Authorization": "Bearer wrong"}, timeout=10,
                        json={"messaging_product": "whatsapp", "to": "966501234567", "type": "text",
                              "text": {"body": "x"}})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == 190  # these operations document no 401; shape as the spec's examples
    assert {"message", "type", "code", "fbtrace_id"} <= set(bad.json()["error"])


def test_whatsapp_send(sandbox, specs_dir):
    endpoint = sandbox["whatsapp"]
    settings = endpoint["settings"]
    openapi = load_spec(str(specs_dir / "whatsapp" / "business-messaging-api_v23.0.yaml"), endpoint["url"])
    response = requests.post(
        f"{settings['api_url']}/{settings['phone_number_id']}/messages",
        headers={"Authorization": f"Bearer {settings['access_token']}"},
        json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": "966501234567",
              "type": "text", "text": {"body": "contract test"}},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["messages"][0]["id"].startswith("wamid.")
    check(openapi, response)


def test_twilio_account_and_message(sandbox, specs_dir):
    endpoint = sandbox["sms"]
    settings = endpoint["settings"]
    openapi = load_spec(str(specs_dir / "twilio" / "twilio_api_v2010.yaml"), endpoint["url"])
    auth = (settings["account_sid"], settings["auth_token"])
    base = f"{settings['api_url']}/2010-04-01/Accounts/{settings['account_sid']}"
    account = requests.get(base + ".json", auth=auth, timeout=10)
    assert account.status_code == 200
    assert account.json()["status"] == "active"
    check(openapi, account)
    message = requests.post(base + "/Messages.json", auth=auth, timeout=10,
                            data={"To": "+966501234567", "From": settings["from_number"], "Body": "contract test"})
    assert message.status_code == 201
    assert message.json()["sid"].startswith("SM")
    check(openapi, message)
    denied = requests.get(base + ".json", auth=(settings["account_sid"], "wrong"), timeout=10)
    assert denied.status_code == 401
    assert denied.json()["code"] == 20003


def test_sendgrid_scopes_and_mail(sandbox, specs_dir):
    endpoint = sandbox["email"]
    settings = endpoint["settings"]
    headers = {"Authorization": f"Bearer {settings['api_key']}"}
    scopes_api = load_spec(str(specs_dir / "sendgrid" / "tsg_scopes_v3.yaml"), endpoint["url"])
    scopes = requests.get(f"{settings['api_url']}/v3/scopes", headers=headers, timeout=10)
    assert "mail.send" in scopes.json()["scopes"]
    check(scopes_api, scopes)
    unauthorized = requests.get(f"{settings['api_url']}/v3/scopes", headers={"Authorization": "Bearer x"}, timeout=10)
    assert unauthorized.status_code == 401
    check(scopes_api, unauthorized)
    mail_api = load_spec(str(specs_dir / "sendgrid" / "tsg_mail_v3.yaml"), endpoint["url"])
    mail = requests.post(f"{settings['api_url']}/v3/mail/send", headers=headers, timeout=10, json={
        "personalizations": [{"to": [{"email": "amal@example.org"}]}],
        "from": {"email": settings["from_email"], "name": settings.get("from_name", "")},
        "subject": "contract test", "content": [{"type": "text/plain", "value": "hello"}],
    })
    assert mail.status_code == 202
    assert mail.headers["X-Message-Id"]
    check(mail_api, mail)


TYPES = {"string": str, "boolean": bool, "integer": int, "object": dict, "array": list}


def test_google_calendar_entry_matches_discovery(sandbox, specs_dir):
    endpoint = sandbox["google_calendar"]
    settings = endpoint["settings"]
    token = requests.post(settings["token_url"], timeout=10, data={
        "grant_type": "refresh_token", "client_id": settings["client_id"],
        "client_secret": settings["client_secret"], "refresh_token": settings["refresh_token"],
    })
    assert token.status_code == 200
    assert token.json()["token_type"] == "Bearer"
    json_token = requests.post(settings["token_url"], timeout=10, json={"grant_type": "refresh_token"})
    assert json_token.status_code == 400, "the token endpoint takes form bodies only"
    entry = requests.get(f"{settings['api_url']}/users/me/calendarList/{settings['calendar_id']}", timeout=10,
                         headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert entry.status_code == 200
    discovery = json.loads((specs_dir / "google-calendar" / "calendar.v3.json").read_text())
    schema = discovery["schemas"]["CalendarListEntry"]["properties"]
    for key, value in entry.json().items():
        assert key in schema, f"{key} is not a CalendarListEntry property"
        expected = TYPES.get(schema[key].get("type"))
        if expected:
            assert isinstance(value, expected), f"{key} should be {schema[key]['type']}"


@pytest.mark.parametrize("kind,collection,id_field", [("seha", "facilities", "facility_id"),
                                                       ("tatman", "providers", "provider_id")])
def test_record_apis(sandbox, kind, collection, id_field):
    settings = sandbox[kind]["settings"]
    url = f"{settings['api_url']}/{collection}/{settings[id_field]}"
    good = requests.get(url, headers={"Authorization": f"Bearer {settings['api_key']}"}, timeout=10)
    assert good.status_code == 200 and good.json()["name"]
    bad = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["message"]


def test_slack_webhook(sandbox):
    settings = sandbox["slack"]["settings"]
    good = requests.post(settings["webhook_url"], json={"text": "contract test"}, timeout=10)
    assert good.status_code == 200 and good.text == "ok"
    bad = requests.post(settings["webhook_url"], data="not json", timeout=10)
    assert bad.status_code == 400 and bad.text == "invalid_payload"
