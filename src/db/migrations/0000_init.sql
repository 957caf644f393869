CREATE TABLE `addresses` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`interface_name` text NOT NULL,
	`family` text NOT NULL,
	`address` text NOT NULL,
	`prefixlen` integer NOT NULL,
	`scope` text,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `interface_name`, `address`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `addresses_address_idx` ON `addresses` (`address`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` text NOT NULL,
	`correlation_id` text NOT NULL,
	`tool` text NOT NULL,
	`arguments` text NOT NULL,
	`outcome` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`error` text,
	`client_name` text,
	`client_version` text,
	`session_id` text,
	`principal` text,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_log_ts_idx` ON `audit_log` (`ts`);--> statement-breakpoint
CREATE INDEX `audit_log_tool_idx` ON `audit_log` (`tool`);--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_hash_idx` ON `audit_log` (`hash`);--> statement-breakpoint
CREATE TABLE `containers` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`name` text NOT NULL,
	`container_id` text NOT NULL,
	`image` text NOT NULL,
	`state` text NOT NULL,
	`status` text,
	`ports` text,
	`labels` text NOT NULL,
	`compose_project` text,
	`compose_service` text,
	`created_at` text,
	`first_observed_at` text NOT NULL,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `name`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `containers_image_idx` ON `containers` (`image`);--> statement-breakpoint
CREATE TABLE `discovery_host_results` (
	`run_id` integer NOT NULL,
	`source_id` text NOT NULL,
	`target_id` text NOT NULL,
	`address` text,
	`status` text NOT NULL,
	`error` text,
	`sections` text NOT NULL,
	`duration_ms` integer NOT NULL,
	PRIMARY KEY(`run_id`, `source_id`, `target_id`),
	FOREIGN KEY (`run_id`) REFERENCES `discovery_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `discovery_host_results_target_idx` ON `discovery_host_results` (`target_id`);--> statement-breakpoint
CREATE TABLE `discovery_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`correlation_id` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text,
	`duration_ms` integer,
	`owner_pid` integer NOT NULL,
	`owner_host` text NOT NULL,
	`targets_seen` integer DEFAULT 0 NOT NULL,
	`targets_added` integer DEFAULT 0 NOT NULL,
	`targets_unreachable` integer DEFAULT 0 NOT NULL,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `discovery_runs_status_idx` ON `discovery_runs` (`status`);--> statement-breakpoint
CREATE INDEX `discovery_runs_started_idx` ON `discovery_runs` (`started_at`);--> statement-breakpoint
CREATE TABLE `discovery_source_results` (
	`run_id` integer NOT NULL,
	`source_id` text NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text NOT NULL,
	`duration_ms` integer NOT NULL,
	`targets` integer NOT NULL,
	`hosts_ok` integer NOT NULL,
	`hosts_failed` integer NOT NULL,
	`warnings` text NOT NULL,
	`error` text,
	PRIMARY KEY(`run_id`, `source_id`),
	FOREIGN KEY (`run_id`) REFERENCES `discovery_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `facts` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`first_observed_at` text NOT NULL,
	`observed_at` text NOT NULL,
	`run_id` integer,
	PRIMARY KEY(`target_id`, `source_id`, `key`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `facts_key_idx` ON `facts` (`key`);--> statement-breakpoint
CREATE TABLE `filesystems` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`mount` text NOT NULL,
	`device` text NOT NULL,
	`fstype` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`used_bytes` integer NOT NULL,
	`avail_bytes` integer NOT NULL,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `mount`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `interfaces` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`name` text NOT NULL,
	`mac` text,
	`mtu` integer,
	`state` text,
	`master` text,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `name`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `ports` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`protocol` text NOT NULL,
	`address` text NOT NULL,
	`port` integer NOT NULL,
	`process` text,
	`pid` integer,
	`first_observed_at` text NOT NULL,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `protocol`, `address`, `port`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ports_port_idx` ON `ports` (`port`);--> statement-breakpoint
CREATE TABLE `services` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`load_state` text,
	`active_state` text,
	`sub_state` text,
	`first_observed_at` text NOT NULL,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `name`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `services_name_idx` ON `services` (`name`);--> statement-breakpoint
CREATE TABLE `stacks` (
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`config_files` text NOT NULL,
	`first_observed_at` text NOT NULL,
	`observed_at` text NOT NULL,
	PRIMARY KEY(`target_id`, `source_id`, `name`),
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `target_identities` (
	`identity` text PRIMARY KEY NOT NULL,
	`target_id` text NOT NULL,
	`source_id` text NOT NULL,
	`first_seen_at` text NOT NULL,
	FOREIGN KEY (`target_id`) REFERENCES `targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `target_identities_target_idx` ON `target_identities` (`target_id`);--> statement-breakpoint
CREATE TABLE `targets` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`parent_id` text,
	`lifecycle` text DEFAULT 'discovered' NOT NULL,
	`last_status` text,
	`last_error` text,
	`address` text,
	`first_seen_at` text NOT NULL,
	`last_seen_at` text,
	`last_attempt_at` text NOT NULL,
	`os_id` text,
	`os_version` text,
	`os_name` text,
	`kernel` text,
	`arch` text,
	`cpu_count` integer,
	`mem_total_bytes` integer,
	`mem_available_bytes` integer,
	`disk_total_bytes` integer,
	`disk_used_bytes` integer,
	`uptime_seconds` real
);
--> statement-breakpoint
CREATE INDEX `targets_name_idx` ON `targets` (`name`);--> statement-breakpoint
CREATE INDEX `targets_kind_idx` ON `targets` (`kind`);--> statement-breakpoint
CREATE INDEX `targets_parent_idx` ON `targets` (`parent_id`);