-- One row per CRM customer record, with contact details normalised for matching and messaging.
--
-- The one join here is a lookup, not a model join: a left join to the country_calling_codes seed on its
-- unique key (tested), needed to write national phone numbers in E.164. It only adds columns, so the
-- grain stays the source's. Everything else is rename / cast / normalise.

with customers as (
    select * from {{ pwh.source_or_empty('crm', 'customers') }}
),

country_calling_codes as (
    select * from {{ ref('country_calling_codes') }}
),

renamed as (
    select
        customer_id,
        {{ pwh.normalize_email('email') }} as email,
        email as email_raw,
        {{ pwh.proper_case(pwh.squish('first_name')) }} as first_name,
        {{ pwh.proper_case(pwh.squish('last_name')) }} as last_name,
        phone as phone_raw,
        birth_date,
        case lower(trim(gender))
            when '' then null
            when 'f' then 'female'
            when 'm' then 'male'
            when 'x' then 'other'
            else lower(trim(gender))
        end as gender,
        {{ pwh.squish('street_address') }} as street_address,
        {{ pwh.squish('city') }} as city,
        upper({{ pwh.squish('postcode') }}) as postcode,
        {{ pwh.squish('country') }} as country,
        -- no recorded consent is no consent
        -- cast: a CRM without a boolean type (SQLite) may deliver 0/1
        coalesce({{ dbt.cast('marketing_opt_in', dbt.type_boolean()) }}, false) as has_marketing_opt_in,
        coalesce({{ dbt.cast('is_deleted', dbt.type_boolean()) }}, false) as is_deleted,
        {{ pwh.to_utc('created_at') }} as created_at,
        {{ pwh.to_utc('updated_at') }} as updated_at
    from customers
),

with_dialling_rules as (
    select
        renamed.*,
        country_calling_codes.country_code,
        country_calling_codes.calling_code,
        country_calling_codes.international_prefix,
        country_calling_codes.trunk_prefix
    from renamed
    left join country_calling_codes
        on lower(renamed.country) = country_calling_codes.country_key
),

phone_digits as (
    select
        with_dialling_rules.*,
        -- "+44 (0)20 ..." writes the trunk prefix in brackets, and "... ext 12" / "x12" / "#12" an
        -- extension: drop both before keeping the digits
        {{ pwh.regexp_replace_all(
            pwh.regexp_replace_all("replace(lower(phone_raw), '(0)', '')", '\s*(ext\.?|extension|x|#)\s*[0-9]+\s*$', ''),
            '[^0-9]', ''
        ) }} as phone_digits,
        trim(phone_raw) like '+%' as has_leading_plus
    from with_dialling_rules
),

phone_international as (
    select
        phone_digits.*,
        case
            when phone_digits = '' then null
            -- already international: "+44 20 7946 0958"
            when has_leading_plus then phone_digits
            -- the country's international prefix: "011 1 555 123 4567" (US), "0011 61 ..." (AU)
            when phone_digits like {{ dbt.concat(['international_prefix', "'%'"]) }}
                then substring(phone_digits, {{ dbt.length('international_prefix') }} + 1)
            -- "00" is the international prefix almost everywhere, and no national number starts with it
            when phone_digits like '00%'
                then substring(phone_digits, 3)
            -- a national number needs the customer's country from here on
            when calling_code is null then null
            -- national with trunk prefix: "020-7946-0958" (GB), "1 (555) 123-4567" (US)
            when trunk_prefix is not null and phone_digits like {{ dbt.concat(['trunk_prefix', "'%'"]) }}
                then {{ dbt.concat(['calling_code', 'substring(phone_digits, ' ~ dbt.length('trunk_prefix') ~ ' + 1)']) }}
            -- calling code typed without '+': "44 20 7946 0958"
            when phone_digits like {{ dbt.concat(['calling_code', "'%'"]) }} and {{ dbt.length('phone_digits') }} >= 11
                then phone_digits
            -- national without trunk prefix: "(555) 123-4567" (US), "06 1234 5678" (IT keeps its 0)
            else {{ dbt.concat(['calling_code', 'phone_digits']) }}
        end as phone_e164_digits
    from phone_digits
),

final as (
    select
        customer_id,
        first_name,
        last_name,
        email,
        -- E.164 allows at most 15 digits; fewer than 8 is not a reachable number
        case
            when {{ dbt.length('phone_e164_digits') }} between 8 and 15
                then {{ dbt.concat(["'+'", 'phone_e164_digits']) }}
        end as phone,
        birth_date,
        gender,
        street_address,
        city,
        postcode,
        country,
        country_code,
        has_marketing_opt_in,
        is_deleted,
        created_at,
        updated_at,
        email_raw,
        phone_raw
    from phone_international
)

select * from final
