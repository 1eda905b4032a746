-- Golden SQL (litellm_spend_logs.statements), rendered by tests/sources/test_reader_sql.py: do not edit by hand.
-- Regenerate: FINOPS_UPDATE_GOLDEN=1 pytest tests/sources
SET preserve_insertion_order = true;

CREATE OR REPLACE TEMP VIEW _reader_<id1> AS /* litellm._select_sql(...): see litellm_spend_logs.select.sql */;

DESCRIBE _reader_<id1>;
