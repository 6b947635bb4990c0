package storetest

var queueCases = []testCase{}
