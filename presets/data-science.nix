# Data science: Python 3.12 with NumPy, pandas, Polars, SciPy, scikit-learn, Matplotlib, JupyterLab; DuckDB
{ pkgs }:
with pkgs; [
  (python312.withPackages (ps: with ps; [
    numpy
    pandas
    polars
    scipy
    scikit-learn
    matplotlib
    seaborn
    jupyterlab
  ]))
  duckdb
]
