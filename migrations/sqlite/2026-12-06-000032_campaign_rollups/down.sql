DROP TABLE campaign_rollups;
