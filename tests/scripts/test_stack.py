import re
from pathlib import Path

import pytest

from record_service.desk.agents import load_agents
from scripts.stack import (
    BROWSER_RESTRICTED_PORTS,
    DEFAULT_PORTS,
    DESK_SECRETS,
    IVR_SECRET_NAMES,
    MODEL_PATH,
    REPO_ROOT,
    REST_SECRET_NAMES,
    SECRET_NAMES,
    WECHAT_SECRETS,
    WECOM_SECRETS,
    WIDGET_SECRETS,
    StackError,
    StackLayout,
    local_secrets,
    production_environment,
    read_env_file,
    service_specs,
    service_token,
    up,
    write_agents_file,
    write_env_file,
)


def test_default_ports_and_directory() -> None:
    layout = StackLayout.from_environment({})
    assert layout.ports == {"RASA_PORT": 5005, "ACTIONS_PORT": 5055, "ORDERS_PORT": 5070, "RECORDS_PORT": 5071}
    assert layout.directory.name == ".stack"


def test_port_base_and_explicit_ports(tmp_path: Path) -> None:
    layout = StackLayout.from_environment(
        {"PORT_BASE": "7000", "RECORDS_PORT": "7100", "STACK_DIR": str(tmp_path)}
    )
    assert layout.ports == {"RASA_PORT": 7000, "ACTIONS_PORT": 7001, "ORDERS_PORT": 7002, "RECORDS_PORT": 7100}
    assert layout.directory == tmp_path


@pytest.mark.parametrize("environ", [{"RECORDS_PORT": "5061"}, {"PORT_BASE": "5057"}, {"RASA_PORT": "6000"}])
def test_a_port_browsers_refuse_is_not_taken_for_the_widget_or_the_desk(environ: dict[str, str]) -> None:
    with pytest.raises(StackError, match="ERR_UNSAFE_PORT"):
        StackLayout.from_environment(environ)


def test_the_default_ports_are_ports_browsers_open() -> None:
    assert not set(DEFAULT_PORTS.values()) & BROWSER_RESTRICTED_PORTS


def test_a_port_that_is_not_a_number_is_a_clear_error() -> None:
    with pytest.raises(StackError, match="not a port number: 'abc'"):
        StackLayout.from_environment({"PORT_BASE": "abc"})


def test_secrets_are_generated_once_kept_private_and_overridable(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    first = local_secrets(layout, {})
    assert set(first) == (set(SECRET_NAMES) | set(WECHAT_SECRETS) | set(WECOM_SECRETS) | set(DESK_SECRETS)
                          | set(IVR_SECRET_NAMES) | set(WIDGET_SECRETS) | set(REST_SECRET_NAMES))
    assert all(len(first[name]) >= 40 for name in SECRET_NAMES + IVR_SECRET_NAMES)
    assert len(set(first.values())) == len(first)
    assert (layout.secrets_file.stat().st_mode & 0o777) == 0o600
    assert local_secrets(layout, {}) == first
    overridden = local_secrets(layout, {"RASA_TOKEN": "from-the-environment"})
    assert overridden["RASA_TOKEN"] == "from-the-environment"
    assert overridden["ORDERS_TOKEN"] == first["ORDERS_TOKEN"]


def test_service_tokens_never_look_like_a_command_line_option() -> None:
    tokens = [service_token() for _ in range(2000)]  # token_urlsafe starts with '-' once in 64
    assert not any(token.startswith("-") for token in tokens)
    assert all(len(token) >= 40 for token in tokens) and len(set(tokens)) == len(tokens)


def test_env_file_lists_every_url_and_token(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path), "PORT_BASE": "6100"})
    keys = local_secrets(layout, {})
    write_env_file(layout, keys)
    assert read_env_file(layout.env_file) == {
        "BOT_URL": "http://127.0.0.1:6100",
        "BOT_TOKEN": keys["RASA_TOKEN"],
        "RECORDS_URL": "http://127.0.0.1:6103/api/records",
        "RECORDS_TOKEN": keys["RECORDS_TOKEN"],
        "ORDERS_URL": "http://127.0.0.1:6102",
        "ORDERS_TOKEN": keys["ORDERS_TOKEN"],
        "ACTIONS_URL": "http://127.0.0.1:6101",
        "WECHAT_URL": "http://127.0.0.1:6100/webhooks/wechat/webhook",
        "WECHAT_TOKEN": keys["WECHAT_TOKEN"],
        "WECHAT_AES_KEY": keys["WECHAT_AES_KEY"],
        "WECHAT_APPID": keys["WECHAT_APPID"],
        "AGENT_URL": "http://127.0.0.1:6103/desk/",
        "AGENT_TOKEN": keys["AGENT_TOKEN"],
        "AGENT2_TOKEN": keys["AGENT2_TOKEN"],
        "IVR_URL": "http://127.0.0.1:6100/webhooks/ivr/turn",
        "IVR_TOKEN": keys["IVR_TOKEN"],
        "REST_WEBHOOK_TOKEN": keys["REST_WEBHOOK_TOKEN"],
        "WECOM_URL": "http://127.0.0.1:6100/webhooks/wecom/callback",
        "WECOM_TOKEN": keys["WECOM_TOKEN"],
        "WECOM_AES_KEY": keys["WECOM_AES_KEY"],
        "WECOM_CORP_ID": keys["WECOM_CORP_ID"],
        "WIDGET_URL": "http://127.0.0.1:6100/webhooks/widget/demo",
        "WIDGET_SECRET": keys["WIDGET_SECRET"],
    }


def test_wechat_values_have_wechats_formats_and_reach_only_rasa(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    assert re.fullmatch(r"[0-9a-f]{32}", keys["WECHAT_TOKEN"])
    assert re.fullmatch(r"[A-Za-z0-9]{43}", keys["WECHAT_AES_KEY"])
    assert re.fullmatch(r"wx[0-9a-f]{16}", keys["WECHAT_APPID"])
    specs = {spec.name: spec for spec in service_specs(layout, keys, [], {})}
    assert {name: specs["rasa"].env[name] for name in WECHAT_SECRETS} == {name: keys[name] for name in WECHAT_SECRETS}
    assert specs["rasa"].env["WECHAT_API_BASE"] == "disabled"
    assert specs["rasa"].env["WECHAT_AES_KEY_PREVIOUS"] == ""
    for name in ("order_system", "record_service", "action_server"):
        assert not any(variable.startswith("WECHAT_") for variable in specs[name].env), name


def test_wechat_api_base_and_previous_key_follow_the_environment(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    environ = {"WECHAT_API_BASE": "http://127.0.0.1:9/fake", "WECHAT_AES_KEY_PREVIOUS": "k" * 43}
    rasa = service_specs(layout, keys, [], environ)[-1]
    assert (rasa.env["WECHAT_API_BASE"], rasa.env["WECHAT_AES_KEY_PREVIOUS"]) == ("http://127.0.0.1:9/fake", "k" * 43)


def test_the_ivr_token_reaches_rasa_and_nothing_else(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path), "PORT_BASE": "6100"})
    keys = local_secrets(layout, {})
    specs = {spec.name: spec for spec in service_specs(layout, keys, [], {})}
    rasa = specs["rasa"].env
    assert rasa["IVR_TOKEN"] == keys["IVR_TOKEN"]
    # A transfer's context comes with the bot's message: Rasa needs no record service.
    assert "RECORDS_TOKEN" not in rasa and "RECORDS_SERVICE_URL" not in rasa
    for name in ("order_system", "record_service", "action_server"):
        assert "IVR_TOKEN" not in specs[name].env, name


def test_services_get_only_their_own_secrets(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    specs = {spec.name: spec for spec in service_specs(layout, keys, [], {})}
    assert list(specs) == ["order_system", "record_service", "action_server", "rasa"]
    assert "RECORDS_TOKEN" not in specs["order_system"].env
    assert "ORDERS_TOKEN" not in specs["record_service"].env
    assert specs["action_server"].env["ACTION_SERVER_TOKEN"] == keys["ACTION_SERVER_TOKEN"]
    assert specs["rasa"].env["ACTION_SERVER_TOKEN"] == keys["ACTION_SERVER_TOKEN"]
    assert "--enable-api" in specs["rasa"].command
    assert specs["rasa"].command[specs["rasa"].command.index("--auth-token") + 1] == keys["RASA_TOKEN"]


def test_databases_default_to_sqlite_in_the_stack_dir_and_follow_the_environment(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    default = {s.name: s for s in service_specs(layout, keys, [], {})}
    assert default["order_system"].env["ORDERS_DATABASE_URL"] == f"sqlite:///{tmp_path / 'orders.db'}"
    production = {
        s.name: s
        for s in service_specs(
            layout, keys, [], {"RECORDS_DATABASE_URL": "postgresql+psycopg2://db/records"}
        )
    }
    assert production["record_service"].env["RECORDS_DATABASE_URL"] == "postgresql+psycopg2://db/records"


def test_up_refuses_a_missing_fixture_file(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path), "PORT_BASE": "6200"})
    with pytest.raises(StackError, match="fixture file not found"):
        up(layout, [tmp_path / "nope.yaml"], {})


def test_the_desk_gets_two_demo_agents_whose_tokens_only_the_env_file_holds(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path), "PORT_BASE": "6300"})
    keys = local_secrets(layout, {})
    write_agents_file(layout, keys)
    records = {spec.name: spec for spec in service_specs(layout, keys, [], {})}["record_service"]

    agents = load_agents(layout.agents_file, service_token=keys["RECORDS_TOKEN"])
    assert [(agent.id, agent.name) for agent in agents] == [("xiaowang", "客服小王"), ("xiaoli", "客服小李")]
    text = layout.agents_file.read_text(encoding="utf-8")
    assert keys["AGENT_TOKEN"] not in text and keys["AGENT2_TOKEN"] not in text
    assert (layout.agents_file.stat().st_mode & 0o777) == 0o600
    assert keys["AGENT_TOKEN"] != keys["AGENT2_TOKEN"]
    assert records.env["RECORDS_AGENTS_FILE"] == str(layout.agents_file)
    assert (records.env["RECORDS_BOT_URL"], records.env["RECORDS_BOT_TOKEN"]) == (
        "http://127.0.0.1:6300", keys["RASA_TOKEN"])


def test_wecom_values_have_wecoms_formats_and_reach_only_rasa(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    assert re.fullmatch(r"ww[0-9a-f]{16}", keys["WECOM_CORP_ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", keys["WECOM_TOKEN"])
    assert re.fullmatch(r"[A-Za-z0-9]{43}", keys["WECOM_AES_KEY"])
    specs = {spec.name: spec for spec in service_specs(layout, keys, [], {})}
    assert {name: specs["rasa"].env[name] for name in WECOM_SECRETS} == {name: keys[name] for name in WECOM_SECRETS}
    assert specs["rasa"].env["WECOM_API_BASE"] == "disabled"
    assert specs["rasa"].env["WECOM_STATE_DATABASE_URL"] == f"sqlite:///{tmp_path / 'wecom_state.db'}"
    for name in ("order_system", "record_service", "action_server"):
        assert not any(variable.startswith("WECOM_") for variable in specs[name].env), name
    environ = {"WECOM_API_BASE": "http://127.0.0.1:9/fake", "WECOM_STATE_DATABASE_URL": "postgresql://db/state"}
    rasa = service_specs(layout, keys, [], environ)[-1]
    assert (rasa.env["WECOM_API_BASE"], rasa.env["WECOM_STATE_DATABASE_URL"]) == tuple(environ.values())


def test_rasa_runs_through_the_projects_launcher_unless_the_benchmark_asks_for_stock_rasa(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    default = service_specs(layout, keys, [], {})[-1].command
    assert default[1:4] == ["-m", "rasa_server", "run"]
    assert default[default.index("--model") + 1] == str(MODEL_PATH)
    environ = {"RASA_LAUNCHER": "rasa", "RASA_MODEL": "bot/models/stock/aftersales-stock.tar.gz"}
    stock = service_specs(layout, keys, [], environ)[-1].command
    assert stock[1:4] == ["-m", "rasa", "run"]
    assert stock[stock.index("--model") + 1] == str(REPO_ROOT / "bot/models/stock/aftersales-stock.tar.gz")
    with pytest.raises(StackError, match="RASA_LAUNCHER"):
        service_specs(layout, keys, [], {"RASA_LAUNCHER": "python"})
    with pytest.raises(StackError, match="no trained model"):
        up(layout, [], {"RASA_MODEL": str(tmp_path / "missing.tar.gz")})


def test_the_action_servers_outbox_is_kept_in_the_stack_dir_or_in_production_s_database(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    embedded = {s.name: s for s in service_specs(layout, keys, [], {})}
    production = {s.name: s for s in service_specs(layout, keys, [], production_environment({}))}

    assert embedded["action_server"].env["ACTION_OUTBOX_DATABASE_URL"] == f"sqlite:///{tmp_path / 'action_outbox.db'}"
    assert production["action_server"].env["ACTION_OUTBOX_DATABASE_URL"].startswith("postgresql")


def test_a_restarted_order_system_keeps_its_orders(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    fixture = tmp_path / "orders.yaml"
    specs = {s.name: s for s in service_specs(layout, local_secrets(layout, {}), [fixture], {})}

    orders = specs["order_system"]
    assert {"--reset", str(fixture)} <= set(orders.command_for(restart=False))
    assert orders.command_for(restart=True)[-2:] == ["-m", "order_system"]
    assert specs["rasa"].command_for(restart=True) == specs["rasa"].command


def test_rasa_s_rest_webhook_is_open_locally_and_guarded_by_a_token_in_production(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    embedded = {s.name: s for s in service_specs(layout, keys, [], {})}["rasa"].env
    production = {s.name: s for s in service_specs(layout, keys, [], production_environment({}))}["rasa"].env

    assert (embedded["REST_WEBHOOK"], production["REST_WEBHOOK"]) == ("open", "token")
    assert len(production["REST_WEBHOOK_TOKEN"]) >= 32
    assert production_environment({"REST_WEBHOOK": "open"})["REST_WEBHOOK"] == "open"


def test_the_channels_state_outlives_rasa_in_the_stack_dir_unless_redis_holds_it(tmp_path: Path) -> None:
    layout = StackLayout.from_environment({"STACK_DIR": str(tmp_path)})
    keys = local_secrets(layout, {})
    embedded = {s.name: s for s in service_specs(layout, keys, [], {})}["rasa"].env
    production = {s.name: s for s in service_specs(layout, keys, [], production_environment({}))}["rasa"].env

    assert (embedded["CHANNEL_STATE_REDIS_URL"], embedded["CHANNEL_STATE_SQLITE_PATH"]) == (
        "", str(tmp_path / "channel_state.db")
    )
    assert production["CHANNEL_STATE_REDIS_URL"].startswith("redis://")  # and Redis wins over the file
