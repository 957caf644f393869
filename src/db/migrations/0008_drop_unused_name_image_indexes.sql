DROP INDEX `containers_image_idx`;--> statement-breakpoint
DROP INDEX `services_name_idx`;