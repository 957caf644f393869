-- Change and security events are history: like the audit log, the database
-- refuses to rewrite or remove them.
CREATE TRIGGER `events_no_update` BEFORE UPDATE ON `events`
BEGIN
  SELECT RAISE(ABORT, 'events is append-only: UPDATE refused');
END;
--> statement-breakpoint
CREATE TRIGGER `events_no_delete` BEFORE DELETE ON `events`
BEGIN
  SELECT RAISE(ABORT, 'events is append-only: DELETE refused');
END;
