"""E-mail notices over SMTP (smtplib): optional STARTTLS and login, one message per notice."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from vantage.config import NotifySettings
from vantage.errors import NotificationError
from vantage.notify.notice import JobNotice


def build_message(notice: JobNotice, sender: str, recipient: str) -> EmailMessage:
    """The e-mail for ``notice``, plain text."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = notice.subject()
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(notice.text())
    return message


def send_email(settings: NotifySettings, recipient: str, notice: JobNotice) -> None:
    """Send ``notice`` to ``recipient`` through the configured SMTP server.

    Raises:
        NotificationError: no SMTP server is configured, or the server refused or failed.
    """
    if not settings.smtp_host:
        raise NotificationError(
            "cannot e-mail: notify.smtp_host is not set", channel="email", job_id=notice.job_id
        )
    message = build_message(notice, settings.smtp_from, recipient)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise NotificationError(
            f"e-mail to {recipient} via {settings.smtp_host}:{settings.smtp_port} failed: {exc}",
            channel="email",
            job_id=notice.job_id,
        ) from exc
