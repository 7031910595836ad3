"""The My Number vault (個人番号): the only place My Numbers exist. See services/selectors."""
