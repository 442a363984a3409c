"""``scripts/check-home-assistant``'s Python, run with the Home Assistant venv's Python.

- ``configure``: Home Assistant's configuration, MQTT config entry, onboarding and access token;
- ``check``: the check phases (states, actions, offline, log), each printing ok/FAIL lines,
  built on ``sources`` (what Home Assistant and energyd show), ``values`` (making those
  comparable) and ``expectations`` (what the README promises, compared with what is shown).
"""
