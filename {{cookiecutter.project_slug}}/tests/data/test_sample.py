from {{ cookiecutter.package_name }}.data.sample import TARGET, make_sample


def test_same_seed_gives_the_same_data():
    assert make_sample(rows=500, seed=3).equals(make_sample(rows=500, seed=3))
    assert not make_sample(rows=500, seed=3).equals(make_sample(rows=500, seed=4))


def test_sample_is_realistically_dirty(sample_frame):
    missing_share = sample_frame.isna().mean()
    dirty_columns = missing_share[(missing_share > 0.03) & (missing_share < 0.12)]
    assert len(dirty_columns) >= 3, "several columns should have 5-10% missing values"
    assert sample_frame.duplicated().sum() > 0, "some rows should be exact duplicates"
    assert sample_frame[TARGET].notna().all()
    assert any(" " in name or "(" in name for name in sample_frame.columns), "a messy column name"


def test_sample_has_gross_outliers(sample_frame):
    numeric = sample_frame.select_dtypes("number").drop(columns=[TARGET], errors="ignore")
    q1, q3 = numeric.quantile(0.25), numeric.quantile(0.75)
    gross = ((numeric < q1 - 3 * (q3 - q1)) | (numeric > q3 + 3 * (q3 - q1))).sum()
    assert gross.sum() > 0
