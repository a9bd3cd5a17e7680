"""Notices when a job succeeds or fails for good: e-mail (`mail`), webhooks (`webhook`), the
message both carry (`notice`), and when to send them, off the job's path (`dispatch`)."""
