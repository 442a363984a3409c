"""The fault suite: energyd attacked as an attacker and a flaky network would (issue 7)."""
