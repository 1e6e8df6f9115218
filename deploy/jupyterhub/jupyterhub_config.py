# JupyterHub configuration for an ssmlab class on one VM (README.md beside this file is the recipe).
#
#   sudo jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
#
# What it sets up:
# - the ssmlab emulator as a hub-managed service named "ssmlab": the hub starts `ssmlab emulator serve` in class
#   mode ($SSMLAB_CLASS_SECRET), restarts it if it exits, stops it with the hub, and the proxy routes
#   /services/ssmlab/ to it (the facilitator's dashboard, behind the hub's sign-in, for admins);
# - every participant's server gets their lab (their user name made a lab name), their own key pair derived
#   from the class secret, and the emulator's URL (ssmlab.classkeys.participant_environ);
# - every participant gets a copy of the notebooks in ~/ssmlab/notebooks, opened at 00_start_here.
#
# Settings an instructor changes are marked "CHANGE". Paths and the port come from the environment so the same
# file runs anywhere (the tests run it on free ports in a temporary directory, tests/test_jupyterhub.py):
#   SSMLAB_HUB_DIR        the hub's state: database, cookie secret, class secret, emulator state (/srv/jupyterhub)
#   SSMLAB_EMULATOR_PORT  the emulator's port on 127.0.0.1 (8765)
#   SSMLAB_CLASS_FILE     the roster: the class secret and who may sign in (SSMLAB_HUB_DIR/class.json, written
#                         once; add participants with `ssmlab class roster NAME... --out FILE`, then restart)
#   SSMLAB_HUB_NOTEBOOKS  the notebooks to hand out (this repository's notebooks/)
#   SSMLAB_HUB_ADMINS     comma-separated admin user names: the facilitators (none)
import os
import sys
from pathlib import Path

from ssmlab import hubservice

c = get_config()  # noqa: F821 - provided by JupyterHub's config loader

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("SSMLAB_HUB_DIR", "/srv/jupyterhub"))
EMULATOR_PORT = int(os.environ.get("SSMLAB_EMULATOR_PORT", "8765"))
CLASS_FILE = Path(os.environ.get("SSMLAB_CLASS_FILE", STATE / "class.json"))
NOTEBOOKS = Path(os.environ.get("SSMLAB_HUB_NOTEBOOKS", HERE.parent.parent / "notebooks"))
ADMINS = {name.strip() for name in os.environ.get("SSMLAB_HUB_ADMINS", "").split(",") if name.strip()}

STATE.mkdir(parents=True, exist_ok=True)
ROSTER = hubservice.class_roster(CLASS_FILE)  # kept, not made per start: every participant's keys derive from it
SECRET = ROSTER.secret

# -- the hub itself -----------------------------------------------------------------------------------------------
c.JupyterHub.bind_url = "http://:8000"  # CHANGE: put TLS in front (c.JupyterHub.ssl_cert/ssl_key, or a reverse proxy)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# -- who signs in (CHANGE) ----------------------------------------------------------------------------------------
# PAM: participants are this VM's system users (create them, or let the admin page do it with
# c.LocalAuthenticator.create_system_users = True). For a class, NativeAuthenticator (participants sign up, an
# admin approves; pip install jupyterhub-nativeauthenticator, authenticator_class = "native") or OAuthenticator
# (GitHub, Google, your campus SSO; pip install oauthenticator) spare you the accounts.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.admin_users = ADMINS
# Who may sign in: the roster's participants and the admins (since JupyterHub 5 nobody else: allow_all defaults to
# False, and admin_users are not allowed by themselves). CHANGE to c.Authenticator.allow_all = True to let every
# account the authenticator accepts in (e.g. every user of a VM made for the class).
c.Authenticator.allowed_users = set(ROSTER.users.values()) | ADMINS
# Admins are the facilitators: JupyterHub's default "admin" role holds `access:services`, so they may open the
# dashboard at /services/ssmlab/; the default "user" role ("self") does not (jupyterhub/roles.py,
# get_default_roles). To let a non-admin TA in, give them only that service:
# c.JupyterHub.load_roles = [{"name": "ssmlab-facilitator", "scopes": ["access:services!service=ssmlab"],
#                             "users": ["ta-name"]}]

# -- where participants' servers run (CHANGE) ---------------------------------------------------------------------
# LocalProcessSpawner runs each server as its system user, on this VM. For isolation use SystemdSpawner (a
# systemd unit per user, with memory/CPU limits) or DockerSpawner (a container per user: build an image with
# ssmlab and the notebooks, drop the pre_spawn_hook below, keep c.Spawner.environment, and serve the emulator
# on an address the containers reach: hubservice.service(..., host="0.0.0.0", url_host=<the host's address>)).
c.JupyterHub.spawner_class = "localprocess"
# The same Python environment as the hub (where ssmlab is installed), whatever PATH the hub was started with.
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.notebook_dir = f"~/{hubservice.NOTEBOOKS_SUBDIR}"
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.pre_spawn_hook = hubservice.notebooks_hook(NOTEBOOKS)

# -- the class's emulator and each participant's keys ------------------------------------------------------------
c.JupyterHub.services = [hubservice.service(SECRET, EMULATOR_PORT, STATE / "emulator")]
# Values that are callables are called with the spawner when a server starts (Spawner.environment's docs):
# SSMLAB_LAB, SSMLAB_ACCESS_KEY_ID, SSMLAB_SECRET_ACCESS_KEY, SSMLAB_TARGET, SSMLAB_EMULATOR_URL.
# Kernels call the emulator at its own URL, not through the proxy: SigV4 signs the path.
c.Spawner.environment = hubservice.spawner_environment(SECRET, c.JupyterHub.services[0]["url"])
