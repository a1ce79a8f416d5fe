// The shared test kit: filled in by issue 14 item 7.
export {}
