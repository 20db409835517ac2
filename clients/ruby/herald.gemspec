# herald.gemspec -- the Ruby producer client of Herald.
require_relative "lib/herald/version"

Gem::Specification.new do |s|
  s.name = "herald"
  s.version = Herald::VERSION
  s.summary = "Push notifications from a Ruby/Rails backend to browsers through Herald"
  s.description = "Producer client for the Herald broker: Herald.notify over a ZeroMQ PUSH socket " \
                  "(one per thread, fork-safe, never blocking), presence queries and HS256 tokens for herald.js."
  s.authors = ["Herald developers"]
  s.license = "MIT"
  s.files = Dir["lib/**/*.rb"] + ["README.md"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 3.0"
  s.add_runtime_dependency "ffi-rzmq", "~> 2.0"
  s.add_runtime_dependency "msgpack", ">= 1.4"
  s.add_runtime_dependency "jwt", ">= 2.5"
  s.add_development_dependency "minitest", ">= 5.15"
end
