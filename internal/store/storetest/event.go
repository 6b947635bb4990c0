package storetest

var eventCases = []testCase{}
