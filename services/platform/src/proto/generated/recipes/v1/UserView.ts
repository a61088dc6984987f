// Original file: proto/recipes/v1/recipes.proto


export interface UserView {
  'favourite'?: (boolean);
  'preferredServings'?: (number);
}

export interface UserView__Output {
  'favourite': (boolean);
  'preferredServings': (number);
}
