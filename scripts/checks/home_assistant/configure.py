"""Home Assistant's configuration directory for the check, and a long-lived access token.

Writes configuration.yaml (loopback HTTP on the given port, the recorder committing every
second), the MQTT config entry (``.storage/core.config_entries``, storage 1.5; the mqtt entry is
version 1.2: broker and port in data, discovery in options), onboarding done, and an admin user
with a long-lived access token (``.storage/auth``). Prints the token's JWT.

Usage: ``python -m checks.home_assistant.configure CONFIG_DIR HA_PORT MQTT_PORT``. Needs the
Home Assistant venv: it imports PyJWT and ``homeassistant.const``.
"""

import argparse
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOKEN_LIFETIME = timedelta(days=1)


def configuration_yaml(ha_port: int) -> str:
    return f"""\
homeassistant:
  name: energyd check
  latitude: 51.5
  longitude: -0.12
  elevation: 0
  unit_system: metric
  time_zone: Europe/London
  currency: GBP
  country: GB
http:
  server_host: 127.0.0.1
  server_port: {ha_port}
api:
recorder:
  commit_interval: 1
logger:
  default: info
"""


def store(storage: Path, key: str, data: object, version: int, minor: int = 1) -> None:
    """Write ``data`` as Home Assistant's storage file ``key`` (in format ``version.minor``)."""
    document = {"version": version, "minor_version": minor, "key": key, "data": data}
    (storage / key).write_text(json.dumps(document, indent=1), encoding="utf-8")


def configure(config: Path, ha_port: int, mqtt_port: int) -> str:
    """Fill ``config`` for a Home Assistant on ``ha_port`` using mosquitto on ``mqtt_port``.

    Returns the JWT of the admin's long-lived access token.
    """
    # Imported here so that --help works outside the Home Assistant venv.
    import jwt
    from homeassistant.const import __version__ as ha_version

    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()

    (config / "configuration.yaml").write_text(configuration_yaml(ha_port), encoding="utf-8")
    store(
        storage,
        "core.config_entries",
        {
            "entries": [
                {
                    "created_at": now,
                    "modified_at": now,
                    "data": {"broker": "127.0.0.1", "port": mqtt_port},
                    "options": {"discovery": True, "discovery_prefix": "homeassistant"},
                    "discovery_keys": {},
                    "disabled_by": None,
                    "domain": "mqtt",
                    "entry_id": uuid.uuid4().hex,
                    "version": 1,
                    "minor_version": 2,
                    "pref_disable_new_entities": False,
                    "pref_disable_polling": False,
                    "source": "user",
                    "subentries": [],
                    "title": "127.0.0.1",
                    "unique_id": None,
                }
            ]
        },
        1,
        5,
    )
    store(storage, "onboarding", {"done": ["user", "core_config", "analytics", "integration"]}, 4)

    user_id, token_id, jwt_key = uuid.uuid4().hex, uuid.uuid4().hex, secrets.token_hex(64)
    store(
        storage,
        "auth",
        {
            "users": [
                {
                    "id": user_id,
                    "group_ids": ["system-admin"],
                    "is_owner": True,
                    "is_active": True,
                    "name": "energyd check",
                    "system_generated": False,
                    "local_only": False,
                }
            ],
            "groups": [
                {"id": "system-admin", "name": "Administrators"},
                {"id": "system-users", "name": "Users"},
                {"id": "system-read-only", "name": "Read Only"},
            ],
            "credentials": [],
            "refresh_tokens": [
                {
                    "id": token_id,
                    "user_id": user_id,
                    "client_id": None,
                    "client_name": "check-home-assistant",
                    "client_icon": None,
                    "token_type": "long_lived_access_token",
                    "created_at": now,
                    "access_token_expiration": TOKEN_LIFETIME.total_seconds(),
                    "token": secrets.token_hex(64),
                    "jwt_key": jwt_key,
                    "last_used_at": None,
                    "last_used_ip": None,
                    "expire_at": None,
                    "credential_id": None,
                    "version": ha_version,
                }
            ],
        },
        1,
    )
    issued = int(time.time())
    claims = {"iss": token_id, "iat": issued, "exp": issued + int(TOKEN_LIFETIME.total_seconds())}
    token: str = jwt.encode(claims, jwt_key, algorithm="HS256")
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checks.home_assistant.configure",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="Home Assistant's configuration directory")
    parser.add_argument("ha_port", type=int, help="the port Home Assistant serves on 127.0.0.1")
    parser.add_argument("mqtt_port", type=int, help="mosquitto's port on 127.0.0.1")
    args = parser.parse_args(argv)
    print(configure(args.config, args.ha_port, args.mqtt_port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
