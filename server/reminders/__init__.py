"""Why reminders are sent: group sessions coming up and the daily check-in not yet done.

`server.push` delivers reminders and knows nothing about groups or check-ins; this package plans them and says,
at send time, whether each is still wanted. `reminder_hooks()` is registered with the dispatcher by the app and
the `steady dispatch` command. Other domains queue their own reminders with `server.push.service.enqueue_reminder`
(or the wording helpers in `server.reminders.notify`).
"""

from server.reminders import kinds as kinds  # registers this app's reminder kinds with server.push
from server.reminders import preferences as preferences  # and who keeps each person's choices of them
from server.reminders.planner import reminder_hooks

__all__ = ["reminder_hooks"]
