#!/usr/bin/env python3
"""Writes the broker's first dynamic-security configuration, once, and the passwords it holds.

Usage: dynsec_init.py DYNSEC_JSON CREDENTIALS_DIR

Made here rather than with `mosquitto_ctrl dynsec init FILE admin PASSWORD` so that no password
is ever on a command line (`ps` shows those to every local user), and so the first start already
has Wardline's roles: nothing has to be configured over the wire before Wardline can connect.

- Default access: nothing. A client may publish, subscribe to and receive only what a role grants.
- Role `admin`: the dynsec control topics, which is to say everything (create clients, change
  roles). Client `admin` (any client id): what `wardline devices provision` uses.
- Role `wardline`: read every device's vitals, alerts and status; send every device's commands.
  Client `wardline`, bound to client id `wardline`.
- Role `gateway`: publish vitals, alerts and status for any device (a bedside gateway or the load
  simulator's shared connections); no commands. Gateway clients are made by provisioning.
Device roles are per device (`device:ID`), made by provisioning: mosquitto 2.0's plugin has no
%c/%u substitution in ACL topics, so each device's own topics are written out literally.

Passwords: 32 random url-safe characters each, written to CREDENTIALS_DIR/NAME.password with
mode 0600; the JSON holds only their PBKDF2-SHA512 hashes (the plugin's own format).
"""
import base64
import hashlib
import json
import os
import secrets
import sys

ITERATIONS = 101  # the plugin's own default for passwords it sets (PW_DEFAULT_ITERATIONS)


def acl(kind, topic):
    return {"acltype": kind, "topic": topic, "priority": 0, "allow": True}


def client(username, password, roles, clientid=None, textname=""):
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, 64)
    c = {"username": username, "textname": textname, "roles": [{"rolename": r} for r in roles],
         "password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
         "iterations": ITERATIONS}
    if clientid:
        c["clientid"] = clientid
    return c


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def main(dynsec_json, credentials_dir):
    if os.path.exists(dynsec_json):
        return
    os.makedirs(credentials_dir, mode=0o700, exist_ok=True)
    passwords = {name: secrets.token_urlsafe(24) for name in ("admin", "wardline")}
    device_topics = ("vitals", "alerts", "status")
    config = {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": [
            client("admin", passwords["admin"], ["admin"], textname="dynsec admin: provisioning"),
            client("wardline", passwords["wardline"], ["wardline"], clientid="wardline", textname="Wardline"),
        ],
        "groups": [],
        "roles": [
            {"rolename": "admin", "acls": [
                acl("publishClientSend", "$CONTROL/dynamic-security/#"),
                acl("publishClientReceive", "$CONTROL/dynamic-security/#"),
                acl("subscribePattern", "$CONTROL/dynamic-security/#"),
                acl("publishClientReceive", "$SYS/#"),
                acl("subscribePattern", "$SYS/#"),
            ]},
            {"rolename": "wardline", "acls": [
                *[acl("subscribePattern", f"devices/+/{t}") for t in device_topics],
                *[acl("publishClientReceive", f"devices/+/{t}") for t in device_topics],
                acl("publishClientSend", "devices/+/commands"),
            ]},
            {"rolename": "gateway", "acls": [acl("publishClientSend", f"devices/+/{t}") for t in device_topics]},
        ],
    }
    for name, password in passwords.items():
        write_secret(os.path.join(credentials_dir, name + ".password"), password)
    tmp = dynsec_json + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    os.rename(tmp, dynsec_json)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    main(sys.argv[1], sys.argv[2])
