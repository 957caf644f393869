CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` text NOT NULL,
	`target_id` text,
	`run_id` integer,
	`type` text NOT NULL,
	`severity` text NOT NULL,
	`message` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_target_idx` ON `events` (`target_id`);--> statement-breakpoint
CREATE INDEX `events_ts_idx` ON `events` (`ts`);--> statement-breakpoint
CREATE INDEX `events_type_idx` ON `events` (`type`);--> statement-breakpoint
CREATE TABLE `ssh_endpoints` (
	`endpoint` text PRIMARY KEY NOT NULL,
	`target_id` text,
	`pinned_fingerprint` text,
	`pinned_key_type` text,
	`pinned_at` text,
	`pending_fingerprint` text,
	`pending_key_type` text,
	`pending_at` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`last_failure_at` text,
	`last_success_at` text,
	`last_error` text,
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `ssh_endpoints_target_idx` ON `ssh_endpoints` (`target_id`);