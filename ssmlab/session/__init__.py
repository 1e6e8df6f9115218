"""The Session Manager data channel: the wire format (`protocol`, pure), a shell client over StartSession's
StreamUrl (`client`), and the terminal loop behind `ssmlab connect` (`terminal`). The same code talks to
the emulator's channel and to AWS's ssmmessages."""
