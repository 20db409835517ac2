# run_all.rb -- runs every test_*.rb of the Ruby client in one minitest process.
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require f }
