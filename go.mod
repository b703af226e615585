module github.com/midge-mqtt/midge

go 1.26
