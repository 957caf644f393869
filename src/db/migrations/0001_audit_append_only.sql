-- The audit log is append-only: the database itself refuses to change or remove
-- a row, whoever asks. Tampering therefore needs these triggers dropped first,
-- and the hash chain (checked by `fleet-mcp audit verify`) catches that.
CREATE TRIGGER `audit_log_no_update` BEFORE UPDATE ON `audit_log`
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
--> statement-breakpoint
CREATE TRIGGER `audit_log_no_delete` BEFORE DELETE ON `audit_log`
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
