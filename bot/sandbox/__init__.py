"""Stand-ins that let culturebot run without Discord or a hosted model: tests and `culturebot sandbox` use them."""
