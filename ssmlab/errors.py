"""The two kinds of failure the command line distinguishes.

`BadInput` is anything the user can fix by changing what they typed or started
(exit code 2, nothing created); `LabError` is AWS refusing something, explained in
the learner's terms (exit code 1).
"""


class SsmlabError(Exception):
    """Base class: every error ssmlab raises on purpose carries a one-line message."""


class BadInput(SsmlabError):
    """A value the user gave is not accepted; the message names it and the accepted form."""


class EmulatorUnreachable(BadInput):
    """The embedded emulator is configured but does not answer."""


class LabError(SsmlabError):
    """AWS (or the emulator) refused a step; the message says why in the lab's terms."""
