ALTER TABLE `targets` ADD `service_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `services_running` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `services_failed` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `container_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `containers_running` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `stack_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `containers_state_idx` ON `containers` (`state`);--> statement-breakpoint
CREATE INDEX `services_active_state_idx` ON `services` (`active_state`);