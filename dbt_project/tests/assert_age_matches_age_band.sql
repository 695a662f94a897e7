-- Fails with one row per person whose age is outside their age band. Both come from birth_date and the
-- run date (whole years, bands of 365.25-day years), so they must agree.

with profiles as (
    select * from {{ ref('user_profiles') }}
),

outside_band as (
    select
        person_id,
        birth_date,
        age,
        age_band
    from profiles
    where age_band is not null
        and not (
            (age_band = '18-24' and age < 25)
            or (age_band = '25-34' and age between 25 and 34)
            or (age_band = '35-44' and age between 35 and 44)
            or (age_band = '45-54' and age between 45 and 54)
            or (age_band = '55-64' and age between 55 and 64)
            or (age_band = '65+' and age >= 65)
        )
)

select * from outside_band
