"""The demo site that `make run` seeds, so every screen of the console has content."""

from __future__ import annotations

from chalicelib.auth import Principal
from chalicelib.domain import sites, users
from chalicelib.models.sites import SiteCreate
from chalicelib.models.users import UserCreate

OPERATOR = Principal(role="operator", site=None, key_id=None)

DEMO_USERS = [
    {"uuid": "alice", "firstName": "Alice", "lastName": "Liddell", "displayName": "Alice L.",
     "email": "alice@example.com", "tags": ["sales", "beta"]},
    {"uuid": "bob", "firstName": "Bob", "lastName": "Builder", "displayName": "Bob",
     "email": "bob@example.com", "tags": ["sales"]},
    {"uuid": "carol", "firstName": "Carol", "lastName": "Danvers", "displayName": "Captain Carol",
     "email": "carol@example.com", "tags": ["support"]},
    {"uuid": "dave", "firstName": "Dave", "lastName": "Grohl", "displayName": "Dave",
     "email": "dave@example.com", "tags": []},
    {"uuid": "erin", "firstName": "Erin", "lastName": "Brockovich", "displayName": "Erin B.",
     "email": "erin@example.com", "tags": ["support"]},
]


def seed_demo(site: str = "demo") -> None:
    sites.create_site(SiteCreate(id=site, name="Demo", timezone="Europe/London", week_start="monday"), OPERATOR)
    for raw in DEMO_USERS:
        users.create_user(site, UserCreate.model_validate(raw, strict=False), "operator")
    users.set_blocked(site, "dave", True, "operator")
