"""Security modes: basic users, API keys, 401 with WWW-Authenticate, 403 naming the privileges."""

from __future__ import annotations

import base64

from .conftest import MODEL, Http, SimFactory

START = f"/_ml/trained_models/{MODEL}/deployment/_start"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def apikey(key_id: str, key: str) -> str:
    return "ApiKey " + base64.b64encode(f"{key_id}:{key}".encode()).decode()


async def test_missing_credentials_is_401_with_www_authenticate(http: Http) -> None:
    r = await http("GET", "/_ml/trained_models/_stats", auth=None, params={"size": "1"})
    assert (r.status, r.error_type) == (401, "security_exception")
    assert r.reason == "missing authentication credentials for REST request [/_ml/trained_models/_stats?size=1]"
    assert r.headers.getall("WWW-Authenticate") == ['Basic realm="security", charset="UTF-8"', "ApiKey"]
    assert r.body["error"]["header"] == {"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"', "ApiKey"]}
    assert r.body["error"]["root_cause"][0]["header"] == r.body["error"]["header"]
    assert r.headers["X-Elastic-Product"] == "Elasticsearch"


async def test_wrong_password_is_401(http: Http) -> None:
    r = await http("GET", "/", auth=basic("elastic", "nope"))
    assert r.status == 401
    assert r.reason == "unable to authenticate user [elastic] for REST request [/]"


async def test_monitor_ml_user_gets_403_naming_the_privileges(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(users=[("mon", "pw", "monitor_ml"), ("ops", "pw", "manage_ml")])
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", START, auth=basic("mon", "pw"))
    assert (r.status, r.error_type) == (403, "security_exception")
    assert r.reason == (
        "action [cluster:admin/xpack/ml/trained_models/deployment/start] is unauthorized for user [mon] with "
        "effective roles [machine_learning_user], this action is granted by the cluster privileges "
        "[manage_inference,manage_ml,manage,all]"
    )
    r = await http(
        "POST", f"/_ml/trained_models/{MODEL}/deployment/_update", {"number_of_allocations": 2}, auth=basic("mon", "pw")
    )
    assert r.reason.endswith("granted by the cluster privileges [manage_ml,manage,all]")
    assert (await http("GET", "/_ml/trained_models/_stats", auth=basic("mon", "pw"))).status == 200
    assert (await http("POST", START, auth=basic("ops", "pw"))).status == 200
    r = await http("GET", "/", auth=basic("ops", "pw"))
    assert r.status == 403
    assert r.reason.endswith("granted by the cluster privileges [monitor,manage,all]")


async def test_validation_runs_before_authorization(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(users=[("mon", "pw", "monitor_ml")])
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", START, params={"number_of_allocations": "0"}, auth=basic("mon", "pw"))
    assert r.status == 400


async def test_api_keys_from_flags_and_create(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(api_keys=[("k1", "secret", "monitor_ml")])
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("GET", "/_security/_authenticate", auth=apikey("k1", "secret"))
    assert r.body["authentication_type"] == "api_key"
    assert r.body["api_key"] == {"id": "k1", "name": "k1"}
    r = await http("POST", START, auth=apikey("k1", "secret"))
    assert r.status == 403
    assert r.reason.startswith(
        "action [cluster:admin/xpack/ml/trained_models/deployment/start] is unauthorized "
        "for API key id [k1] of user [elastic], this action is granted by"
    )
    bad = await http("GET", "/", auth=apikey("k1", "wrong"))
    assert bad.status == 401
    created = await http("POST", "/_security/api_key", {"name": "full"})
    assert set(created.body) == {"id", "name", "api_key", "encoded"}
    assert base64.b64decode(created.body["encoded"]).decode() == f"{created.body['id']}:{created.body['api_key']}"
    r = await http("POST", START, auth="ApiKey " + created.body["encoded"])
    assert r.status == 200


async def test_only_privileged_users_create_api_keys(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(users=[("ops", "pw", "manage_ml")])
    http = Http(sim, session)  # type: ignore[arg-type]
    r = await http("POST", "/_security/api_key", {"name": "x"}, auth=basic("ops", "pw"))
    assert r.status == 403


async def test_no_security_accepts_anonymous_requests(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(security=False)
    http = Http(sim, session)  # type: ignore[arg-type]
    assert (await http("POST", START, auth=None)).status == 200
    assert (await http("GET", "/", auth="Basic garbage")).status == 200


async def test_api_key_limited_to_manage_ml_and_monitor_is_what_the_operator_needs(http: Http) -> None:
    """role_descriptors with a cluster privilege list limit a key: manage_ml + monitor cover every operator call."""

    async def key(*privileges: str) -> str:
        body = {"name": "esml", "role_descriptors": {"esml-operator": {"cluster": list(privileges)}}}
        created = await http("POST", "/_security/api_key", body)
        assert created.status == 200
        return "ApiKey " + str(created.body["encoded"])

    operator = await key("manage_ml", "monitor")
    assert (await http("GET", "/", auth=operator)).status == 200
    assert (await http("GET", "/_ml/trained_models/_all/_stats", auth=operator)).status == 200
    assert (await http("POST", START, auth=operator)).status == 200
    update = f"/_ml/trained_models/{MODEL}/deployment/_update"
    assert (await http("POST", update, {"number_of_allocations": 2}, auth=operator)).status == 200
    assert (await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_stop", auth=operator)).status == 200

    monitor_ml = await key("monitor_ml")
    assert (await http("GET", "/_ml/trained_models/_all/_stats", auth=monitor_ml)).status == 200
    r = await http("GET", "/", auth=monitor_ml)
    assert (r.status, r.error_type) == (403, "security_exception")
    assert r.reason.startswith("action [cluster:monitor/main] is unauthorized for API key id [")
    assert r.reason.endswith("this action is granted by the cluster privileges [monitor,manage,all]")

    read_only = await key("monitor")
    assert (await http("GET", "/", auth=read_only)).status == 200
    assert (await http("GET", "/_ml/trained_models/_all/_stats", auth=read_only)).status == 200
    r = await http("POST", START, auth=read_only)
    assert r.status == 403
    assert r.reason.endswith("granted by the cluster privileges [manage_inference,manage_ml,manage,all]")
