# Try the class hub on your own machine, before a class: any user name signs in without a password, and each
# "participant" gets a server under SSMLAB_HUB_DIR/home/<name>, run as you.
#
#   jupyterhub -f deploy/jupyterhub/try_config.py       then open http://127.0.0.1:8000, sign in as alice
#
# NEVER for real participants: DummyAuthenticator checks nothing and SimpleLocalProcessSpawner isolates nothing
# (JupyterHub's docs say both are for testing). It is jupyterhub_config.py with those two swapped in, which is
# also what tests/test_jupyterhub.py starts.
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub's config loader

os.environ.setdefault("SSMLAB_HUB_DIR", str(Path("ssmlab-hub").resolve()))  # not /srv: no root needed
os.environ.setdefault("SSMLAB_HUB_ADMINS", "admin")  # sign in as "admin" to open the dashboard
load_subconfig(str(Path(__file__).with_name("jupyterhub_config.py")))  # noqa: F821 - the loader's too

c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(os.environ["SSMLAB_HUB_DIR"], "home", "{username}")
if os.geteuid() == 0:  # Jupyter refuses to run as root unless told (a container, a CI job)
    c.Spawner.args = ["--allow-root"]
