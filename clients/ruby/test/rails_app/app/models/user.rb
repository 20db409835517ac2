# app/models/user.rb -- a stand-in for an ActiveRecord user: Herald sends it as its id.
class User
  attr_reader :id

  def initialize(id)
    @id = id
  end
end
