-- Full-text index for search_fleet (src/inventory/search.ts, docs/search.md).
--
-- One contentless FTS5 table per searchable inventory table, keyed by the base
-- row's rowid and ranked by bm25 (the persistent `rank` weighs the name column
-- above the others, so a name match outranks a description match).
--
-- Triggers on the base tables do not write the FTS tables themselves: they only
-- note the changed rowid in `search_pending`, and `search_index_flush` applies
-- the pending rows set-based. Why: FTS5 flushes its in-memory buffer at every
-- statement that writes it, so a trigger that indexes each row written by its
-- own INSERT (as the ingest does) costs ~14 us per row; noting the rowid costs
-- ~1.5 us and the set-based flush ~2.5 us per row. Contentless with
-- contentless_delete=1 is what makes that possible: a row is removed from the
-- index by rowid alone, without the old values the base row no longer has. It
-- also stores no copy of the text.
--
-- The flush runs (1) at the end of every discovery run, inside its transaction
-- (the run's status leaving 'running'), so a reader never sees new rows with an
-- old index, and (2) from searchFleet() before it reads, for any other writer
-- (role changes, import). `INSERT INTO search_index_flush(id) VALUES (NULL)` is the
-- flush; the table never keeps a row.
--
-- The index is keyed by the base tables' implicit rowids, which VACUUM may
-- renumber: rebuildSearchIndex() re-derives it and must run after a VACUUM.
-- Update triggers fire only when an indexed column changes (WHEN), so the per-run
-- bookkeeping (last_attempt_at, readings, states) never touches the index.
CREATE TABLE `search_pending` (
	`tbl` integer NOT NULL,
	`rid` integer NOT NULL,
	PRIMARY KEY(`tbl`, `rid`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE VIRTUAL TABLE `targets_fts` USING fts5(id, name, address, os_name, os_id, kind, role, tags, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `targets_fts`(`targets_fts`, rank) VALUES ('rank', 'bm25(2.0, 10.0, 4.0, 1.0, 1.0, 1.0, 2.0, 3.0)');
--> statement-breakpoint
INSERT INTO `targets_fts`(rowid, id, name, address, os_name, os_id, kind, role, tags) SELECT rowid, id, name, address, os_name, os_id, kind, role, tags FROM `targets`;
--> statement-breakpoint
CREATE TRIGGER `targets_search_ai` AFTER INSERT ON `targets` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (0, new.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `targets_search_ad` AFTER DELETE ON `targets` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (0, old.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `targets_search_au` AFTER UPDATE OF id, name, address, os_name, os_id, kind, role, tags ON `targets`
WHEN old.id IS NOT new.id OR old.name IS NOT new.name OR old.address IS NOT new.address OR old.os_name IS NOT new.os_name OR old.os_id IS NOT new.os_id OR old.kind IS NOT new.kind OR old.role IS NOT new.role OR old.tags IS NOT new.tags
BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (0, new.rowid);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `services_fts` USING fts5(name, description, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `services_fts`(`services_fts`, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
--> statement-breakpoint
INSERT INTO `services_fts`(rowid, name, description) SELECT rowid, name, description FROM `services`;
--> statement-breakpoint
CREATE TRIGGER `services_search_ai` AFTER INSERT ON `services` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (1, new.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `services_search_ad` AFTER DELETE ON `services` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (1, old.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `services_search_au` AFTER UPDATE OF name, description ON `services`
WHEN old.name IS NOT new.name OR old.description IS NOT new.description
BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (1, new.rowid);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `containers_fts` USING fts5(name, image, compose_project, compose_service, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `containers_fts`(`containers_fts`, rank) VALUES ('rank', 'bm25(10.0, 3.0, 2.0, 2.0)');
--> statement-breakpoint
INSERT INTO `containers_fts`(rowid, name, image, compose_project, compose_service) SELECT rowid, name, image, compose_project, compose_service FROM `containers`;
--> statement-breakpoint
CREATE TRIGGER `containers_search_ai` AFTER INSERT ON `containers` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (2, new.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `containers_search_ad` AFTER DELETE ON `containers` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (2, old.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `containers_search_au` AFTER UPDATE OF name, image, compose_project, compose_service ON `containers`
WHEN old.name IS NOT new.name OR old.image IS NOT new.image OR old.compose_project IS NOT new.compose_project OR old.compose_service IS NOT new.compose_service
BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (2, new.rowid);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `stacks_fts` USING fts5(name, config_files, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `stacks_fts`(`stacks_fts`, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
--> statement-breakpoint
INSERT INTO `stacks_fts`(rowid, name, config_files) SELECT rowid, name, config_files FROM `stacks`;
--> statement-breakpoint
CREATE TRIGGER `stacks_search_ai` AFTER INSERT ON `stacks` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (3, new.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `stacks_search_ad` AFTER DELETE ON `stacks` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (3, old.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `stacks_search_au` AFTER UPDATE OF name, config_files ON `stacks`
WHEN old.name IS NOT new.name OR old.config_files IS NOT new.config_files
BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (3, new.rowid);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `ports_fts` USING fts5(port, protocol, address, process, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `ports_fts`(`ports_fts`, rank) VALUES ('rank', 'bm25(10.0, 1.0, 1.0, 3.0)');
--> statement-breakpoint
INSERT INTO `ports_fts`(rowid, port, protocol, address, process) SELECT rowid, port, protocol, address, process FROM `ports`;
--> statement-breakpoint
CREATE TRIGGER `ports_search_ai` AFTER INSERT ON `ports` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (4, new.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `ports_search_ad` AFTER DELETE ON `ports` BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (4, old.rowid);
END;
--> statement-breakpoint
CREATE TRIGGER `ports_search_au` AFTER UPDATE OF port, protocol, address, process ON `ports`
WHEN old.port IS NOT new.port OR old.protocol IS NOT new.protocol OR old.address IS NOT new.address OR old.process IS NOT new.process
BEGIN
  INSERT OR IGNORE INTO `search_pending`(tbl, rid) VALUES (4, new.rowid);
END;
--> statement-breakpoint
CREATE TABLE `search_index_flush` (
	`id` integer PRIMARY KEY
);
--> statement-breakpoint
CREATE TRIGGER `search_index_flush_apply` AFTER INSERT ON `search_index_flush` BEGIN
  DELETE FROM `targets_fts` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 0);
  INSERT INTO `targets_fts`(rowid, id, name, address, os_name, os_id, kind, role, tags) SELECT rowid, id, name, address, os_name, os_id, kind, role, tags FROM `targets` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 0);
  DELETE FROM `services_fts` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 1);
  INSERT INTO `services_fts`(rowid, name, description) SELECT rowid, name, description FROM `services` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 1);
  DELETE FROM `containers_fts` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 2);
  INSERT INTO `containers_fts`(rowid, name, image, compose_project, compose_service) SELECT rowid, name, image, compose_project, compose_service FROM `containers` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 2);
  DELETE FROM `stacks_fts` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 3);
  INSERT INTO `stacks_fts`(rowid, name, config_files) SELECT rowid, name, config_files FROM `stacks` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 3);
  DELETE FROM `ports_fts` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 4);
  INSERT INTO `ports_fts`(rowid, port, protocol, address, process) SELECT rowid, port, protocol, address, process FROM `ports` WHERE rowid IN (SELECT rid FROM `search_pending` WHERE tbl = 4);
  DELETE FROM `search_pending`;
  DELETE FROM `search_index_flush`;
END;
--> statement-breakpoint
CREATE TRIGGER `discovery_runs_search_flush` AFTER UPDATE OF status ON `discovery_runs`
WHEN old.status = 'running' AND new.status <> 'running'
BEGIN
  INSERT INTO `search_index_flush`(id) VALUES (NULL);
END;
