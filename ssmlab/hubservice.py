"""A class on a JupyterHub: the shared emulator as a hub-managed service, each participant's keys and notebooks.

What `deploy/jupyterhub/jupyterhub_config.py` (one VM) and the Zero to JupyterHub values' `hub.extraConfig`
(Kubernetes) both call, so the two deployments give participants the same environment and the config files
stay declarations. No JupyterHub import: the hub hands its spawner to these functions at run time.

JupyterHub facts relied on (JupyterHub 5.x/6.x, `jupyterhub/services/service.py` and `jupyterhub/spawner.py`,
and the docs' "Services" reference): a service with a `command` is started, and restarted when it exits, by the
hub; one with a `url` gets the proxy route `/services/<name>/` (the prefix is kept on the forwarded path);
`Spawner.environment` values may be callables called with the spawner at spawn time; `pre_spawn_hook` is called
with the spawner before each start.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from ssmlab import classkeys

SERVICE_NAME = "ssmlab"
NOTEBOOKS_SUBDIR = "ssmlab"  # the participant's copy: ~/ssmlab/notebooks/*.ipynb, pictures in ~/ssmlab/build


def class_roster(path: str | os.PathLike[str]) -> classkeys.Roster:
    """The class in the roster file at `path` (its secret, its participants), written there (mode 0600, a new
    secret, nobody listed yet) the first time.

    Kept, not generated per start, because every participant's key pair derives from the secret: a hub restart
    must not change the keys of servers that are already running. `ssmlab class roster NAME... --out FILE` adds
    participants to it and keeps the secret."""
    where = Path(path)
    if not where.exists():
        where.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as out:
                json.dump(classkeys.roster(classkeys.new_secret()).to_json(), out)
    return classkeys.load(where)


def service(secret: str, port: int, state_dir: str | os.PathLike[str], *, host: str = "127.0.0.1",
            url_host: str | None = None, python: str = sys.executable) -> dict[str, Any]:
    """The `c.JupyterHub.services` entry that runs `ssmlab emulator serve` in class mode.

    `url` is where the proxy (for the dashboard under /services/ssmlab/) and the participants' kernels
    reach it; kernels call it directly, not through the proxy, since SigV4 signs the request's path and the
    proxy would add the /services/ssmlab prefix. `oauth_no_confirm`: the facilitator's browser goes straight
    to the dashboard after signing in to the hub, without the "authorize this service" page."""
    return {
        "name": SERVICE_NAME,
        "url": f"http://{url_host or host}:{port}",
        "command": [python, "-m", "ssmlab", "emulator", "serve", "--host", host, "--port", str(port)],
        # A managed service gets only this, the hub's JUPYTERHUB_* variables and the LocalProcessSpawner's
        # env_keep (PATH, LANG, VIRTUAL_ENV, ...): no HOME, so the state directory is given explicitly.
        "environment": {classkeys.SECRET_VAR: secret, "SSMLAB_STATE_DIR": str(state_dir)},
        "oauth_no_confirm": True,
        "display": True,
    }


def spawner_environment(secret: str, emulator_url: str | None) -> dict[str, Callable[[Any], str]]:
    """`c.Spawner.environment`: each variable of `classkeys.participant_environ` as a callable of the spawner,
    computed from the user's name when their server starts (their lab, their key pair, the shared emulator;
    `emulator_url` None leaves $SSMLAB_EMULATOR_URL to be set elsewhere, e.g. Z2JH's singleuser.extraEnv)."""
    def variable(name: str) -> Callable[[Any], str]:
        return lambda spawner: classkeys.participant_environ(secret, spawner.user.name, emulator_url)[name]

    return {name: variable(name) for name in classkeys.participant_environ(secret, "participant", emulator_url)}


def notebooks_hook(source: str | os.PathLike[str]) -> Callable[[Any], None]:
    """A `pre_spawn_hook` that copies the kit's notebooks into the participant's ~/ssmlab/notebooks, keeping any
    the participant already has (their work survives a restart), owned by them when they are a system user.

    The home directory is the spawner's own (`SimpleLocalProcessSpawner.home_dir`), else the system user's
    (`LocalProcessSpawner` runs the server as that user); for a user with neither (a container spawner, whose
    image should bring the notebooks) it copies nothing and says so in the hub's log."""
    notebooks = sorted(Path(source).glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks in {source}; set SSMLAB_HUB_NOTEBOOKS to the kit's notebooks/")

    def hook(spawner: Any) -> None:
        import pwd

        name = spawner.user.name
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            account = None
        home = getattr(spawner, "home_dir", None) or (account.pw_dir if account else None)
        if not home:  # not a local account (a container spawner): its image brings the notebooks
            spawner.log.warning("no home directory for %r on the hub's host: ssmlab notebooks not copied", name)
            return
        copy_notebooks(notebooks, Path(home) / NOTEBOOKS_SUBDIR / "notebooks",
                       owner=(account.pw_uid, account.pw_gid) if account and os.geteuid() == 0 else None)

    return hook


def copy_notebooks(notebooks: list[Path], target: Path, owner: tuple[int, int] | None = None) -> list[Path]:
    """Copy the notebooks missing from `target` (creating it and its parents below the home directory);
    returns what was copied."""
    target.mkdir(parents=True, exist_ok=True)
    copied = [shutil.copy2(notebook, target / notebook.name) for notebook in notebooks
              if not (target / notebook.name).exists()]
    if owner is not None:
        for path in (target.parent, target, *map(Path, copied)):
            os.chown(path, *owner)
    return [Path(path) for path in copied]
