"""aiosmtpd handler for tests/unit/test_mail.c: a Maildir that refuses on cue.

Started by the test as
    /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_peer.Refuser DIR
with PYTHONPATH=tests/unit. The recipient's local part picks the answer:
    gone@...  550 to RCPT (permanent)
    busy@...  451 to RCPT (transient)
    spam@...  554 to the end of DATA (permanent, after the message was sent)
anything else is stored in the Maildir DIR like aiosmtpd.handlers.Mailbox does.
"""
from aiosmtpd.handlers import Mailbox


class Refuser(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local == "gone":
            return "550 5.1.1 no such user here"
        if local == "busy":
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@", 1)[0] == "spam" for r in envelope.rcpt_tos):
            return "554 5.7.1 message refused"
        return await super().handle_DATA(server, session, envelope)
