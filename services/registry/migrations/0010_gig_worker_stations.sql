-- 新就业形态劳动者服务站点: where a station is set up and what it offers, so a registrar sees them
-- with the facility. Other facilities have neither (NULL host, no services).
ALTER TABLE facilities_view ADD COLUMN station_host text;
ALTER TABLE facilities_view ADD COLUMN station_services text[] NOT NULL DEFAULT '{}';
