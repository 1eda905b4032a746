-- Golden SQL (azure_cost_details.statements), rendered by tests/sources/test_reader_sql.py: do not edit by hand.
-- Regenerate: FINOPS_UPDATE_GOLDEN=1 pytest tests/sources
SET preserve_insertion_order = true;

COPY (SELECT "Date" AS date, "CostInBillingCurrency" AS cost, "BillingCurrencyCode" AS currency, "BillingAccountId" AS billing_account_id, "BillingAccountName" AS billing_account_name, "BillingProfileId" AS billing_profile_id, NULL::VARCHAR AS billing_profile_name, "BillingPeriodStartDate" AS bp_start, "BillingPeriodEndDate" AS bp_end, NULL::VARCHAR AS invoice_id, NULL::VARCHAR AS invoice_section, "SubscriptionId" AS subscription_id, "SubscriptionName" AS subscription_name, "ResourceGroupName" AS resource_group, "ResourceId" AS resource_id, NULL::VARCHAR AS resource_name, "ResourceLocationNormalized" AS region, "Location" AS location, "MeterCategory" AS meter_category, "MeterSubcategory" AS meter_subcategory, "MeterName" AS meter_name, "MeterId" AS meter_id, NULL::VARCHAR AS meter_region, "ProductName" AS product_name, NULL::VARCHAR AS product_id, NULL::VARCHAR AS part_number, "Quantity" AS quantity, "UnitOfMeasure" AS unit, "UnitPrice" AS unit_price, "PayGPrice" AS payg_price, "EffectivePrice" AS effective_price, "PaygCostInBillingCurrency" AS payg_cost, NULL::VARCHAR AS cost_usd, "ChargeType" AS charge_type, "Frequency" AS frequency, "PricingModel" AS pricing_model, NULL::VARCHAR AS reservation_id, "Tags" AS tags, "AdditionalInfo" AS additional_info, "ConsumedService" AS consumed_service, NULL::VARCHAR AS cost_center, NULL::VARCHAR AS exchange_rate, NULL::VARCHAR AS pricing_currency, NULL::VARCHAR AS publisher, NULL::VARCHAR AS partner FROM read_csv('/data/x.csv', columns = {'Date': 'VARCHAR', 'BillingAccountId': 'VARCHAR', 'BillingAccountName': 'VARCHAR', 'BillingProfileId': 'VARCHAR', 'BillingPeriodStartDate': 'VARCHAR', 'BillingPeriodEndDate': 'VARCHAR', 'BillingCurrencyCode': 'VARCHAR', 'SubscriptionId': 'VARCHAR', 'SubscriptionName': 'VARCHAR', 'ResourceGroupName': 'VARCHAR', 'ResourceId': 'VARCHAR', 'ResourceLocationNormalized': 'VARCHAR', 'Location': 'VARCHAR', 'MeterCategory': 'VARCHAR', 'MeterSubcategory': 'VARCHAR', 'MeterName': 'VARCHAR', 'MeterId': 'VARCHAR', 'ProductName': 'VARCHAR', 'Quantity': 'VARCHAR', 'UnitOfMeasure': 'VARCHAR', 'UnitPrice': 'VARCHAR', 'EffectivePrice': 'VARCHAR', 'PayGPrice': 'VARCHAR', 'CostInBillingCurrency': 'VARCHAR', 'PaygCostInBillingCurrency': 'VARCHAR', 'ChargeType': 'VARCHAR', 'Frequency': 'VARCHAR', 'PricingModel': 'VARCHAR', 'Tags': 'VARCHAR', 'AdditionalInfo': 'VARCHAR', 'ConsumedService': 'VARCHAR'}, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', store_rejects = true, rejects_table = '_csv_rejects_<id1>', rejects_scan = '_csv_scan_<id1>')) TO '<tmp1>/rows.parquet' (FORMAT parquet, COMPRESSION zstd);

SELECT count(*) FILTER (WHERE regexp_matches(trim(date), '^\d{1,2}/\d{1,2}/\d{4}')), count(*) FILTER (WHERE TRY_CAST(trim(date) AS TIMESTAMPTZ) IS NOT NULL) FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp1>/rows.parquet', file_row_number = true));

SELECT
        count(*) FILTER (WHERE lower(trim(charge_type)) IN ('unusedreservation', 'unusedsavingsplan')),
        count(*) FILTER (WHERE lower(trim(pricing_model)) IN ('reservation', 'savingsplan') AND lower(trim(charge_type)) = 'usage' AND TRY_CAST(trim(cost) AS DOUBLE) <> 0),
        count(*) FILTER (WHERE lower(trim(pricing_model)) IN ('reservation', 'savingsplan') AND lower(trim(charge_type)) = 'usage' AND TRY_CAST(trim(cost) AS DOUBLE) = 0),
        count(*) FILTER (WHERE lower(trim(pricing_model)) IN ('reservation', 'savingsplan') AND lower(trim(charge_type)) = 'purchase')
        FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp1>/rows.parquet', file_row_number = true));

SELECT DISTINCT "meter_name" FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp1>/rows.parquet', file_row_number = true)) WHERE "meter_name" IS NOT NULL;

SELECT DISTINCT "unit" FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp1>/rows.parquet', file_row_number = true)) WHERE "unit" IS NOT NULL;

SET preserve_insertion_order = true;

COPY (/* azure_costs._select_sql(...): see azure_cost_details.select.sql */) TO '<tmp2>/rows.parquet' (FORMAT parquet, COMPRESSION zstd);

SELECT DISTINCT BillingPeriodStart, BillingPeriodEnd, BillingAccountId, SubAccountId
        FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp2>/rows.parquet', file_row_number = true)) WHERE NOT starts_with(x_DataQualityFlags, 'REJECT' || chr(31)) AND BillingPeriodStart IS NOT NULL
        AND BillingPeriodEnd IS NOT NULL AND BillingAccountId IS NOT NULL AND SubAccountId IS NOT NULL
        ORDER BY 1, 3, 4;

SELECT * EXCLUDE (src_row) FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS src_row FROM read_parquet('<tmp2>/rows.parquet', file_row_number = true));
