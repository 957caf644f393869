ALTER TABLE `addresses` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `containers` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `facts` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `facts` DROP COLUMN `run_id`;--> statement-breakpoint
ALTER TABLE `filesystems` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `interfaces` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `ports` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `services` DROP COLUMN `observed_at`;--> statement-breakpoint
ALTER TABLE `stacks` DROP COLUMN `observed_at`;