-- Golden SQL (mapped_github_usage.statements), rendered by tests/sources/test_reader_sql.py: do not edit by hand.
-- Regenerate: FINOPS_UPDATE_GOLDEN=1 pytest tests/sources
SET preserve_insertion_order = true;

COPY (/* mapped.select_sql(...): see mapped_github_usage.select.sql */) TO '<tmp1>/rows.parquet' (FORMAT parquet, COMPRESSION zstd);

CREATE OR REPLACE TEMP VIEW _reader_<id1> AS SELECT * REPLACE (file_row_number + 2 AS x_SourceRow) FROM read_parquet('<tmp1>/rows.parquet', file_row_number = true);

DESCRIBE _reader_<id1>;
