"""The simulated instance behind a Session Manager shell (and Run Command's AWS-RunShellScript): it answers
command lines from the lab's state and never executes anything on the host. Pure: `shell` reads the line,
`host`, `dns`, `curl` and `diagnostics` answer the families of commands."""

from ssmlab.instance.shell import Answer, SimulatedInstance

__all__ = ["Answer", "SimulatedInstance"]
