CREATE TABLE `observations` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`collection` text NOT NULL,
	`observed_at` text NOT NULL,
	`run_id` integer,
	PRIMARY KEY(`target_id`, `source_id`, `collection`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `snapshots` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`type` text NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL,
	`created_at` text NOT NULL,
	`run_id` integer,
	`target_count` integer NOT NULL,
	`entity_count` integer NOT NULL,
	`health_mean` real,
	`format` integer NOT NULL,
	`data` blob NOT NULL,
	`size_bytes` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `snapshots_name_idx` ON `snapshots` (`name`);--> statement-breakpoint
CREATE INDEX `snapshots_created_idx` ON `snapshots` (`created_at`);--> statement-breakpoint
ALTER TABLE `containers` ADD `image_id` text;--> statement-breakpoint
ALTER TABLE `containers` ADD `restart_count` integer;--> statement-breakpoint
ALTER TABLE `containers` ADD `health` text;--> statement-breakpoint
ALTER TABLE `containers` ADD `exit_code` integer;--> statement-breakpoint
ALTER TABLE `containers` ADD `privileged` integer;--> statement-breakpoint
ALTER TABLE `containers` ADD `network_mode` text;--> statement-breakpoint
ALTER TABLE `services` ADD `enabled` text;--> statement-breakpoint
ALTER TABLE `targets` ADD `role` text DEFAULT 'unassigned' NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `role_source` text;--> statement-breakpoint
ALTER TABLE `targets` ADD `role_reason` text;--> statement-breakpoint
ALTER TABLE `targets` ADD `tags` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `health_score` real;--> statement-breakpoint
ALTER TABLE `targets` ADD `health_issues` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `health_checked_at` text;--> statement-breakpoint
CREATE INDEX `targets_role_idx` ON `targets` (`role`);--> statement-breakpoint
CREATE INDEX `targets_lifecycle_idx` ON `targets` (`lifecycle`);--> statement-breakpoint
CREATE INDEX `targets_health_idx` ON `targets` (`health_score`);