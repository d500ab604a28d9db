"""The bureau's dashboard (数据看板) and the monthly report (长护险月度运行情况): figures kept in
summary tables by a job, so a page view never scans the raw tables (issue 18)."""
