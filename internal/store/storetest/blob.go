package storetest

var blobCases = []testCase{}
