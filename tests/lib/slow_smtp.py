"""aiosmtpd handler for tests/integration/mail_lease.test.mjs: a Maildir behind a slow server.

Started as
    /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c slow_smtp.Slow DIR SECONDS
with PYTHONPATH=tests/lib. Each message waits SECONDS (a float) at the end of DATA before it is stored
in the Maildir DIR and answered 250, as aiosmtpd.handlers.Mailbox does. The wait is asyncio.sleep, so
several clients are served at once, each at this pace.
"""
import asyncio

from aiosmtpd.handlers import Mailbox


class Slow(Mailbox):
    def __init__(self, mail_dir, delay):
        super().__init__(mail_dir)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 2:
            parser.error("usage: slow_smtp.Slow DIR SECONDS")
        return cls(args[0], float(args[1]))
