"""Services: functions taking a Session. They flush; the caller's boundary commits."""
